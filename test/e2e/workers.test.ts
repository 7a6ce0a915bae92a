// Issue 19 in Debian's Chromium against `sift serve`: a `sift worker` on loopback added in the
// settings drawer, the model loaded again split across it (the drawer says how), an answer whose
// info panel shows the worker's weights and KV, and the worker removed again.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testModelPath } from '../helpers/testModel.js';
import { startWorker, stopWorker, type RunningWorker } from '../helpers/siftWorker.js';
import { launchChromium } from './support/browser.js';
import { setSampling, ui } from './support/chatPage.js';
import { buildRenderer } from './support/renderer.js';
import { startServe, type ServeHandle } from './support/serveProcess.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = process.env['SIFT_UPDATE_SCREENSHOTS'] === '1' ? path.join(repoRoot, 'docs', 'screenshots') : path.join(repoRoot, 'test-results', 'screenshots');

describe('workers in the settings drawer', () => {
  let dataDir: string;
  let serve: ServeHandle;
  let worker: RunningWorker;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    buildRenderer();
    fs.mkdirSync(SHOTS, { recursive: true });
    worker = await startWorker();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-e2e-workers-'));
    serve = await startServe({ dataDir, args: ['--model', testModelPath(), '--context', '1024'] });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => console.error('page error:', error.message));
    await page.goto(serve.url);
    await ui(page).modelButton().filter({ hasText: 'Smollm2' }).waitFor({ timeout: 120_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    await stopWorker(worker);
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('adds a worker, splits the model across it, and shows its bytes after an answer', async () => {
    await ui(page).newChat().click();
    await setSampling(page, { temperature: 0, maxTokens: 4 });
    await ui(page).settings().click();
    const address = page.getByRole('textbox', { name: 'Worker address' });
    await address.fill('[::1]:50052');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await expect.poll(() => page.getByTestId('worker-problem').textContent()).toMatch(/IPv4 only/);
    await address.fill(worker.address);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await expect.poll(() => page.getByTestId('worker-list').textContent(), { timeout: 60_000 }).toContain(worker.address);
    // auto on loopback: the worker and this machine report the same free memory, so about half
    await expect
      .poll(() => page.getByTestId('worker-split').textContent(), { timeout: 120_000 })
      .toMatch(new RegExp(`^\\d+ of 31 layers on a worker, in proportion to each machine's free memory: RPC0 at ${worker.address.replace(/\./g, '\\.')} ~\\d+`));
    await expect.poll(() => page.getByRole('textbox', { name: 'GPU layers' }).isEnabled()).toBe(true);
    await page.getByRole('region', { name: 'Workers' }).scrollIntoViewIfNeeded();
    await page.emulateMedia({ colorScheme: 'light' });
    await page.screenshot({ path: path.join(SHOTS, 'settings-workers-light.png') });
    await page.getByRole('button', { name: 'Close chat settings' }).click();

    await ui(page).message().fill('Name a color.');
    await ui(page).message().press('Enter');
    const answer = ui(page).answers().last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 120_000 }).toBe('complete');
    await page.getByRole('button', { name: 'Cache and speed details' }).click();
    const memory = page.getByTestId('memory-by-device');
    await expect.poll(() => memory.textContent()).toMatch(new RegExp(`RPC0 \\(worker ${worker.address.replace(/\./g, '\\.')}\\)\\s*weights [\\d.]+ MiB · KV [\\d.]+ MiB`));
    expect(worker.log()).toMatch(/client 127\.0\.0\.1 connected/);
  });

  it('removes the worker: the model loads again on this machine alone', async () => {
    await ui(page).settings().click();
    await page.getByRole('button', { name: `Remove worker ${worker.address}` }).click();
    await expect.poll(() => page.getByTestId('worker-list').count(), { timeout: 60_000 }).toBe(0);
    await expect.poll(() => page.getByTestId('worker-split').count(), { timeout: 120_000 }).toBe(0);
    await expect.poll(() => page.getByRole('textbox', { name: 'GPU layers' }).isEnabled(), { timeout: 60_000 }).toBe(false);
  });
});
