// First run to first answer in the browser, saving the main screens (light and dark) under
// docs/screenshots/ for the README: no model → model manager → load by path → attach a document →
// ask → cache and speed details → settings.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testModelPath } from '../helpers/testModel.js';
import { launchChromium } from './support/browser.js';
import { setSampling, ui } from './support/chatPage.js';
import { buildRenderer } from './support/renderer.js';
import { startServe, type ServeHandle } from './support/serveProcess.js';

// the README's pictures are refreshed on request (SIFT_UPDATE_SCREENSHOTS=1); an ordinary test run
// writes its screenshots under test-results/ so it never rewrites tracked files
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = process.env['SIFT_UPDATE_SCREENSHOTS'] === '1'
  ? path.join(repoRoot, 'docs', 'screenshots')
  : path.join(repoRoot, 'test-results', 'screenshots');

const DOCUMENT = `# Harbor Light Maintenance Log

The north harbor light was inspected on 14 March. The lens was cleaned and the lamp replaced.
The keeper, Ada Morgan, reported that the fog signal sounds every 20 seconds.
Next inspection: 2 September.
`;

describe('first run to first answer, with screenshots', () => {
  let dataDir: string;
  let serve: ServeHandle;
  let browser: Browser;
  let page: Page;

  const shot = async (name: string, scheme: 'light' | 'dark') => {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${scheme}.png`) });
  };

  beforeAll(async () => {
    buildRenderer();
    fs.mkdirSync(SHOTS, { recursive: true });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-e2e-shots-'));
    serve = await startServe({ dataDir });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(serve.url);
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('guides a first run to the model manager and loads a model by path', async () => {
    // with no model yet, the model manager opens by itself and the chat explains why
    await page.getByRole('complementary', { name: 'Models' }).waitFor();
    await expect.poll(() => page.getByText('Choose a model to get started').count()).toBe(1);
    await shot('first-run', 'light');
    await shot('first-run', 'dark');

    await page.getByRole('textbox', { name: 'Model file path' }).fill(testModelPath());
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await ui(page).modelButton().filter({ hasText: 'Smollm2' }).waitFor({ timeout: 120_000 });
    const models = page.getByRole('complementary', { name: 'Models' });
    await expect.poll(() => models.getByText('Fits').count()).toBe(1);
    await expect.poll(() => models.textContent()).toContain('llama');
    await shot('model-manager', 'light');
    await shot('model-manager', 'dark');
    await page.getByRole('button', { name: 'Close models' }).click();
  });

  it('answers a question about an attached document and shows its metrics', async () => {
    await ui(page).newChat().click();
    await expect.poll(() => page.getByText('Ask about a long document').count()).toBe(1);
    await shot('empty-chat', 'light');
    await shot('empty-chat', 'dark');

    await setSampling(page, { temperature: 0, maxTokens: 40 });
    await page.getByLabel('Choose documents to attach').setInputFiles({
      name: 'harbor-log.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from(DOCUMENT),
    });
    await page.getByRole('list', { name: 'Documents to send' }).getByText('harbor-log.md').waitFor();
    await ui(page).message().fill('When is the next inspection?');
    await ui(page).send().click();
    const answer = ui(page).answers().first();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 60_000 }).toBe('complete');
    await expect.poll(() => ui(page).questions().first().getByText('harbor-log.md').count()).toBe(1);
    await expect.poll(() => answer.getByText(/^TTFT /).count()).toBe(1);
    await page.mouse.move(0, 0);
    await shot('chat', 'light');
    await shot('chat', 'dark');

    await page.getByRole('button', { name: 'Cache and speed details' }).click();
    const info = page.getByRole('complementary', { name: 'Cache and speed' });
    await expect.poll(() => info.textContent()).toContain('Time to first token');
    await shot('cache-info', 'light');
    await shot('cache-info', 'dark');
    await page.getByRole('button', { name: 'Close cache and speed' }).click();
  });

  it('shows the settings, with how the model loads and what its context would hold', async () => {
    await ui(page).settings().click();
    const loading = page.getByRole('region', { name: 'Model loading' });
    await expect.poll(() => loading.getByTestId('context-size-prediction').textContent(), { timeout: 30_000 }).toMatch(/Opens 8,192 tokens/);
    await loading.scrollIntoViewIfNeeded();
    await shot('settings', 'light');
    await shot('settings', 'dark');
  });
});
