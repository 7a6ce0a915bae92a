// Issue 16's whole flow in Debian's Chromium against `sift serve` with SmolLM2: a ~6,000-token PDF
// dropped on the chat, asked about with the live indicators moving (progress, TTFT counter, KV
// meter, per-layer chart), the KV budget's prediction following a change, a follow-up that reads
// only what it adds, and, after a restart, the same PDF in a new chat restored from disk.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testModelPath } from '../helpers/testModel.js';
import { buildPdf } from '../fixtures/documents/pdfBuilder.js';
import { launchChromium } from './support/browser.js';
import { dropFile, indicatorLog, setSampling, ui, watchIndicators } from './support/chatPage.js';
import { buildRenderer } from './support/renderer.js';
import { startServe, type ServeHandle } from './support/serveProcess.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = process.env['SIFT_UPDATE_SCREENSHOTS'] === '1' ? path.join(repoRoot, 'docs', 'screenshots') : path.join(repoRoot, 'test-results', 'screenshots');
const NAME = 'idle-manual.pdf';

/** ~24,000 characters of real prose (IDLE's help and history, the GPL) as a 7-page PDF. */
function longPdf(): Buffer {
  const prose = ['idle-help.txt', 'idle-history.txt', 'gpl2.txt']
    .map((file) => fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'lazy-prose', file), 'utf8'))
    .join('\n')
    .replace(/[^\x20-\x7e\n]/g, ' ')
    .slice(0, 24_000);
  const lines: string[] = [];
  for (const paragraph of prose.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line.length + word.length + 1 > 90) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    if (line) lines.push(line);
  }
  const pages: string[][] = [];
  for (let i = 0; i < lines.length; i += 38) pages.push(lines.slice(i, i + 38));
  return buildPdf(pages);
}

describe('a ~6,000-token PDF, end to end', () => {
  let dataDir: string;
  let serve: ServeHandle;
  let browser: Browser;
  let page: Page;
  const pdf = longPdf();

  const open = async () => {
    await page.goto(serve.url);
    await ui(page).modelButton().filter({ hasText: 'Smollm2' }).waitFor({ timeout: 120_000 });
  };
  const attach = async () => {
    await dropFile(page, NAME, 'application/pdf', pdf);
    await page.getByRole('list', { name: 'Documents to send' }).getByText(NAME).waitFor({ timeout: 60_000 });
  };

  beforeAll(async () => {
    buildRenderer();
    fs.mkdirSync(SHOTS, { recursive: true });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-e2e-pdf-'));
    serve = await startServe({ dataDir, args: ['--model', testModelPath()] });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => console.error('page error:', error.message));
    await open();
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('reads the dropped PDF with the indicators moving, and the budget changes the prediction', async () => {
    await ui(page).newChat().click();
    await setSampling(page, { temperature: 0, maxTokens: 16 });
    await attach();
    await ui(page).message().fill('What was the name of the harbour master of Lindqvist?');
    const preview = page.getByTestId('turn-preview');
    await expect.poll(() => preview.textContent(), { timeout: 30_000 }).toMatch(/^[5-7],\d{3} of 8,192 tokens · auto: /);

    // the KV budget's prediction for this chat's next turn (the PDF included) follows a change
    await ui(page).settings().click();
    const budget = page.getByRole('textbox', { name: 'KV budget' });
    const prediction = page.getByTestId('kv-budget-prediction');
    await expect.poll(() => prediction.textContent(), { timeout: 30_000 }).toMatch(/^This chat's next turn: auto: .* · [\d.]+ MiB of KV/);
    const unbudgeted = (await prediction.textContent()) ?? '';
    await budget.fill('20mb');
    await budget.press('Enter');
    await expect.poll(() => prediction.textContent(), { timeout: 30_000 }).not.toBe(unbudgeted);
    const kv = /· ([\d.]+) (KiB|MiB) of KV/.exec((await prediction.textContent()) ?? '');
    expect(Number(kv![1]) * (kv![2] === 'MiB' ? 1024 : 1)).toBeLessThanOrEqual(20 * 1024);
    await budget.fill('auto');
    await budget.press('Enter');
    await expect.poll(() => prediction.textContent(), { timeout: 30_000 }).toBe(unbudgeted);
    await page.getByRole('button', { name: 'Close chat settings' }).click();

    await watchIndicators(page);
    await ui(page).message().press('Enter');
    await page.getByTestId('live-layer-chart').waitFor({ timeout: 60_000 });
    // a third of the way in, for the picture
    const bar = page.getByRole('progressbar', { name: 'Prompt reading progress' });
    await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 120_000 }).toBeGreaterThanOrEqual(30);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.screenshot({ path: path.join(SHOTS, 'reading-light.png') });
    const answer = ui(page).answers().last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 180_000 }).toBe('complete');
    await expect.poll(() => answer.getByText(/^TTFT /).count()).toBe(1);

    const log = await indicatorLog(page);
    // the progress bar moved through several values, the TTFT counter ticked, the chart had every layer
    expect(log.progress.filter((p) => p > 0 && p < 100).length).toBeGreaterThanOrEqual(2);
    expect(log.ttftCounter.length).toBeGreaterThanOrEqual(5);
    expect(log.chartLayers).toContain(30);
    expect(log.kvMeter.some((text) => / now$|allocated, filling$/.test(text))).toBe(true);
    await expect.poll(() => page.getByTestId('kv-meter-free').textContent()).toMatch(/RAM free$/);
  });

  it('answers a follow-up without reading the PDF again', async () => {
    const before = await ui(page).answers().count();
    await ui(page).message().fill('Which dialog selects the keybindings?');
    await ui(page).message().press('Enter');
    await expect.poll(() => ui(page).answers().count()).toBe(before + 1);
    const answer = ui(page).answers().last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 180_000 }).toBe('complete');
    const badge = (await answer.getByText(/^TTFT /).textContent()) ?? '';
    const cached = /· ([\d,]+) cached$/.exec(badge);
    expect(cached, badge).not.toBeNull();
    expect(Number(cached![1]!.replace(/,/g, ''))).toBeGreaterThan(5000);
  });

  it('after a restart, the same PDF in a new chat is restored from disk, not read', async () => {
    await serve.stop();
    serve = await startServe({ dataDir });
    await open();
    await ui(page).newChat().click();
    await setSampling(page, { temperature: 0, maxTokens: 8 });
    await attach();
    await ui(page).message().fill('What was the name of the harbour master of Lindqvist?');
    await expect.poll(() => page.getByTestId('turn-preview').textContent(), { timeout: 30_000 }).toMatch(/\([5-7],\d{3} saved on disk, \d{1,3} to read\)/);
    await ui(page).message().press('Enter');
    const answer = ui(page).answers().last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 180_000 }).toBe('complete');
    await expect.poll(() => answer.getByText(/^TTFT /).textContent()).toMatch(/^TTFT .* · [5-7],\d{3} from disk$/);
  });

  it('under value-aware eviction, shows what the cache kept of the PDF and scrolls to a passage', async () => {
    await ui(page).newChat().click();
    await setSampling(page, { temperature: 0, maxTokens: 4 });
    await ui(page).settings().click();
    await page.getByRole('combobox', { name: 'KV-cache policy' }).selectOption('vatp:budget=0.25,chunk=sentence');
    await page.getByRole('button', { name: 'Close chat settings' }).click();
    await attach();
    await ui(page).message().fill('What was the name of the harbour master of Lindqvist?');
    await ui(page).message().press('Enter');
    const answer = ui(page).answers().last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 180_000 }).toBe('complete');
    await page.getByRole('button', { name: 'Cache and speed details' }).click();
    const heat = page.getByRole('region', { name: 'What the cache kept' });
    const strip = heat.getByRole('group', { name: `What the cache kept of ${NAME}` });
    await expect.poll(() => strip.getByRole('button').count()).toBe(48);
    // a quarter of the prompt's budget: a share of the PDF, neither none nor all
    const share = Number(/^(\d+)% kept$/.exec((await heat.getByTestId('kept-share').textContent()) ?? '')?.[1]);
    expect(share).toBeGreaterThan(5);
    expect(share).toBeLessThan(60);
    // the middle of the document, in its text with the kept passages marked
    await strip.getByRole('button').nth(24).click();
    const text = heat.getByRole('document', { name: `${NAME} with the kept passages marked` });
    await expect.poll(() => text.locator('.kept').count()).toBeGreaterThan(3);
    await expect.poll(() => text.evaluate((el) => el.scrollTop)).toBeGreaterThan(0);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.screenshot({ path: path.join(SHOTS, 'kept-light.png') });
    await page.getByRole('button', { name: 'Close cache and speed' }).click();
  });
});
