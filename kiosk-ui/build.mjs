// Bundles the three kiosk apps and the client portal into dist/: dist/<app>/index.html (public pages,
// served as /kiosk/<app> and /portal) and dist/assets/* (hashed bundles under /kiosk/assets/, never revalidated).
import { build } from 'esbuild';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const started = performance.now();
const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const assets = join(dist, 'assets');
const PUBLIC = '/kiosk/assets/';
// Kiosks are fixed touch screens (no zoom); the portal is read in the client's own browser, where zoom stays.
const KIOSK_VIEWPORT = 'width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no';
const KIOSK_NOSCRIPT = '此终端需要启用 JavaScript。This screen needs JavaScript.';
const APPS = {
  lobby: { title: '访客登记 · lawbox', theme: '#f4f6f9', viewport: KIOSK_VIEWPORT, noscript: KIOSK_NOSCRIPT },
  meeting: { title: '无纸化会议 · lawbox', theme: '#0f1b2d', viewport: KIOSK_VIEWPORT, noscript: KIOSK_NOSCRIPT },
  wall: { title: '数据大屏 · lawbox', theme: '#0b1422', viewport: KIOSK_VIEWPORT, noscript: KIOSK_NOSCRIPT },
  portal: { title: '客户服务中心', theme: '#14233c', viewport: 'width=device-width, initial-scale=1', noscript: '此页面需要启用 JavaScript。This page needs JavaScript.' },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: Object.fromEntries(Object.keys(APPS).map((app) => [app, `src/${app}/main.tsx`])),
  outdir: assets,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110'],
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  publicPath: PUBLIC,
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

// pdf.js runs its parser in a worker loaded by URL; CMaps and standard fonts let it show PDFs whose
// Chinese (or base-14) fonts are not embedded. All of it is served from the appliance itself.
const pdfjs = dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'));
cpSync(join(pdfjs, 'build/pdf.worker.min.mjs'), join(assets, 'pdf.worker.min.mjs'));
cpSync(join(pdfjs, 'cmaps'), join(assets, 'pdfjs/cmaps'), { recursive: true });
cpSync(join(pdfjs, 'standard_fonts'), join(assets, 'pdfjs/standard_fonts'), { recursive: true });

const outputs = Object.entries(result.metafile.outputs);
for (const [app, { title, theme, viewport, noscript }] of Object.entries(APPS)) {
  const entry = outputs.find(([, o]) => o.entryPoint === `src/${app}/main.tsx`);
  if (!entry) throw new Error(`no bundle for ${app}`);
  const [js, meta] = entry;
  const url = (file) => PUBLIC + relative(assets, join(root, file)).split('\\').join('/');
  const css = meta.cssBundle ? `\n<link rel="stylesheet" href="${url(meta.cssBundle)}">` : '';
  // Static chunks the entry imports are preloaded so the page does not wait on a request waterfall.
  const preloads = meta.imports
    .filter((i) => i.kind === 'import-statement')
    .map((i) => `\n<link rel="modulepreload" href="${url(i.path)}">`)
    .join('');
  const html = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="${viewport}">
<meta name="theme-color" content="${theme}">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>${title}</title>${css}${preloads}
<script type="module" src="${url(js)}"></script>
</head>
<body class="app-${app}">
<div id="app"><div class="boot-screen"><div class="boot-spinner"></div><p>正在加载… Loading…</p></div></div>
<noscript><p class="boot-screen">${noscript}</p></noscript>
</body>
</html>
`;
  mkdirSync(join(dist, app), { recursive: true });
  writeFileSync(join(dist, app, 'index.html'), html);
}

const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
const size = (n) => `${(n / 1024).toFixed(0)} KiB`;
const perApp = Object.keys(APPS)
  .map((app) => {
    const [file, meta] = outputs.find(([, o]) => o.entryPoint === `src/${app}/main.tsx`);
    return `${app} ${basename(file)} ${size(meta.bytes)}`;
  })
  .join(', ');
console.log(`kiosk-ui: ${outputs.length} files, ${size(bytes)} in dist/assets (${perApp}) in ${Math.round(performance.now() - started)} ms`);
