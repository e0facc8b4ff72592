import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { KIOSK_UI_DIR } from '../../server/src/plugins/kiosk-ui.js';

/** Debian's Chromium (apt-get install chromium fonts-wqy-microhei); CHROMIUM_PATH points elsewhere. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots of the browser tests: kept as artifacts of the run, never committed. */
export const SCREENSHOTS = fileURLToPath(new URL('../../artifacts/screenshots/', import.meta.url));

interface Tap {
  teardown(fn: () => unknown): void;
  fail(message: string): unknown;
}

/**
 * Why browser tests cannot run here, or null. A user's machine without Chromium skips them with the
 * reason; in CI (where .ci/run installs it) a missing browser is a failure, never a skip.
 */
export function browserUnavailable(): string | null {
  if (!existsSync(CHROMIUM)) return `Chromium not found at ${CHROMIUM} (apt-get install chromium fonts-wqy-microhei)`;
  if (!existsSync(path.join(KIOSK_UI_DIR, 'lobby', 'index.html'))) return 'kiosk-ui is not built (npm run build)';
  return null;
}

/** Stops the test file early when the browser cannot run: skipped on a user's machine, failed in CI. */
export function requireBrowser(t: Tap): boolean {
  const reason = browserUnavailable();
  if (!reason) return true;
  if (process.env.CI) t.fail(`browser tests cannot run in CI: ${reason}`);
  else console.log(`# skipping the browser tests: ${reason}`);
  return false;
}

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/**
 * Headless Chromium for one test file, flags as checked on this machine kind: no sandbox (root), no
 * GPU, no background traffic. Each kiosk then gets its own context (`kioskPage`): its own cookies (the
 * kiosk token), storage and cache, as separate screens have, without a browser process for each.
 */
export async function startBrowser(t: Tap): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  t.teardown(() => browser.close());
  return browser;
}

/** A page in a fresh context, as one kiosk screen sees the appliance (Chinese locale, Beijing time). */
export async function kioskPage(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  // A script error on a kiosk is a defect: collect them so each test can assert there were none.
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  (page as Page & { scriptErrors?: string[] }).scriptErrors = errors;
  return page;
}

/** The uncaught script errors a page has had so far. */
export const scriptErrors = (page: Page): string[] => (page as Page & { scriptErrors?: string[] }).scriptErrors ?? [];

/** Saves a full-page screenshot as a test artifact: artifacts/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * A TCP relay between the browser and the server that can lose the network: `cut()` drops every
 * connection and refuses new ones (a pulled cable, a rebooting switch), `restore()` lets them through
 * again. The kiosk talks to the relay's port as if it were the server.
 */
export async function flakyNetwork(t: Tap, targetPort: number): Promise<{ port: number; cut(): void; restore(): void }> {
  const { createServer, connect } = await import('node:net');
  let down = false;
  const open = new Set<import('node:net').Socket>();
  const relay = createServer((client) => {
    if (down) return client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of open) s.destroy();
    relay.close();
  });
  return {
    port: (relay.address() as import('node:net').AddressInfo).port,
    cut() {
      down = true;
      for (const s of open) s.destroy();
    },
    restore() {
      down = false;
    },
  };
}
