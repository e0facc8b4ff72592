#!/usr/bin/env bash
# Builds lawbox and packs the release archive the Ansible roles install (ansible/README.md):
#   artifacts/lawbox-<version>-linux-x64.tar.gz
# with server/, device-agent/ (compiled), kiosk-ui/dist, firmware-profiles/, package.json,
# package-lock.json and the production dependencies of the server and the agent, taken from the
# installed node_modules (run `npm ci` first; nothing is downloaded). Prints the archive's path last.
#
#   scripts/release.sh [--skip-build] [--out DIR]
#
# --skip-build packs what is already built (CI builds during `npm ci`; a test must not rebuild dist/
# under other tests that run it). The native modules are those of this machine: build on linux-x64.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
out=artifacts
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-build) build=0 ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    *) echo "release: unknown option $1 (use --skip-build, --out DIR)" >&2; exit 2 ;;
  esac
  shift
done

fail() { echo "release: $*" >&2; exit 1; }
[ "$(uname -sm)" = "Linux x86_64" ] || fail "build on linux-x64: the archive carries this machine's native modules"
[ -d node_modules ] || fail "node_modules is missing: run npm ci first"

if [ "$build" = 1 ]; then
  npm run build --silent
fi
for built in server/dist/cli.js device-agent/dist/main.js kiosk-ui/dist; do
  [ -e "$built" ] || fail "$built is missing: run npm run build (or drop --skip-build)"
done

# The version names the release directory on the hosts: the package version and the commit, marked
# when the working tree differs from it (such an archive is for testing, not for a firm).
version=$(node -p 'require("./package.json").version')
if commit=$(git rev-parse --short=10 HEAD 2>/dev/null); then
  version="$version+g$commit"
  git diff --quiet HEAD -- 2>/dev/null || version="$version.dirty"
fi
archive="$out/lawbox-$version-linux-x64.tar.gz"

# Production dependencies of the two programs that run on the hosts (kiosk-ui is bundled into its
# dist/ by the build). `npm ls` fails when node_modules does not match package-lock.json.
deps=$(npm ls --omit=dev --all --parseable -w server -w device-agent 2>/dev/null) ||
  fail "node_modules does not match package-lock.json: run npm ci"
root=$PWD
list=$(mktemp)
trap 'rm -f "$list"' EXIT
{
  printf '%s\n' package.json package-lock.json firmware-profiles kiosk-ui/package.json kiosk-ui/dist
  for pkg in server device-agent; do
    printf '%s\n' "$pkg/package.json" "$pkg/bin" "$pkg/dist"
  done
  [ -d server/data ] && echo server/data
  # The latest test run's results, so `lawbox compliance` on the box shows what this build passed.
  [ -d .tap/test-results ] && echo .tap/test-results
  # A package's own node_modules comes with it: list only the outermost paths, so none is packed twice.
  printf '%s\n' "$deps" | sed -n "s#^$root/##p" | grep -E '(^|/)node_modules/' | sort -u |
    awk '{ for (i = 1; i <= n; i++) if (index($0, kept[i] "/") == 1) next; kept[++n] = $0; print }'
} >"$list"

mkdir -p "$out"
tmp="$archive.partial"
# Owner and group 0 and no build-machine names: the archive unpacks the same everywhere.
tar --create --gzip --file "$tmp" --owner=0 --group=0 --numeric-owner \
  --exclude='*.tsbuildinfo' --files-from="$list"
mv "$tmp" "$archive"
echo "release: $(du -h "$archive" | cut -f1) $(wc -l <"$list") paths" >&2
echo "$archive"
