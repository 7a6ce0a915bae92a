// A served page opened without its token, or with a stale one, says what to do instead of
// waiting forever for a connection the server refuses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/browser.js';
import { buildRenderer } from './support/renderer.js';
import { startServe, type ServeHandle } from './support/serveProcess.js';

describe('a served page without a valid token', () => {
  let dataDir: string;
  let serve: ServeHandle;
  let browser: Browser;

  beforeAll(async () => {
    buildRenderer();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-e2e-token-'));
    serve = await startServe({ dataDir });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('says the address lacks its token', async () => {
    const page = await browser.newPage();
    await page.goto(`${serve.origin}/`);
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent(), { timeout: 20_000 }).toContain('opened without its access token');
    await page.close();
  });

  it('says the token was refused, and recovers once the right address is opened', async () => {
    const page = await browser.newPage();
    await page.goto(`${serve.origin}/#token=not-the-token`);
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent(), { timeout: 30_000 }).toContain("refused this page's access token");
    await page.goto(serve.url);
    await page.reload();
    await expect.poll(() => alert.count(), { timeout: 30_000 }).toBe(0);
    await expect.poll(() => page.getByRole('button', { name: /new chat/i }).count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.close();
  });
});
