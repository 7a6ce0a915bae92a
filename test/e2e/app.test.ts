// The Svelte renderer in Debian's Chromium against `sift serve` with the real SmolLM2 model and a
// real SQLite store in a temp dir: the chat flows a person uses every day, end to end.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testModelPath } from '../helpers/testModel.js';
import { launchChromium } from './support/browser.js';
import { answerLengths, setSampling, ui, watchAnswerLengths } from './support/chatPage.js';
import { buildRenderer } from './support/renderer.js';
import { startServe, type ServeHandle } from './support/serveProcess.js';

const QUESTION = 'What is the capital of France?';
const RENAMED = 'Geography questions';

describe('Sift in a browser (serve mode)', () => {
  let dataDir: string;
  let serve: ServeHandle;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    buildRenderer();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-e2e-'));
    serve = await startServe({ dataDir, args: ['--model', testModelPath()] });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => console.error('page error:', error.message));
    await page.goto(serve.url);
    await ui(page).modelButton().filter({ hasText: 'Smollm2' }).waitFor({ timeout: 120_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a chat and streams an answer token by token, with its TTFT badge', async () => {
    await ui(page).newChat().click();
    await expect.poll(() => ui(page).heading().textContent()).toBe('New chat');
    await setSampling(page, { temperature: 0, maxTokens: 24 });
    await watchAnswerLengths(page);

    await ui(page).message().fill(QUESTION);
    // before sending, the composer says how long the prompt is and what auto would do with it
    await expect.poll(() => page.getByTestId('turn-preview').textContent()).toMatch(/^[\d,]+ of [\d,]+ tokens · auto: full · [\d.]+ MiB predicted$/);
    await ui(page).message().press('Enter');

    await expect.poll(() => ui(page).questions().first().textContent()).toContain(QUESTION);
    const answer = ui(page).answers().first();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 60_000 }).toBe('complete');
    const text = (await answer.locator('.body').textContent())?.trim() ?? '';
    expect(text.length).toBeGreaterThan(10);
    // streamed: the answer passed through several partial lengths before the final one
    const lengths = (await answerLengths(page)).filter((n) => n > 0 && n < text.length);
    expect(lengths.length).toBeGreaterThanOrEqual(3);
    await expect.poll(() => answer.getByText(/^TTFT /).count()).toBe(1);
    // the chat is named after its first question
    await expect.poll(() => ui(page).heading().textContent()).toBe(QUESTION);
    // a new chat's policy is auto: the info panel says what it chose and why
    await page.getByRole('button', { name: 'Cache and speed details' }).click();
    const info = page.getByRole('complementary', { name: 'Cache and speed' });
    await expect.poll(() => info.getByTestId('turn-policy').textContent()).toBe('full');
    await expect.poll(() => info.getByTestId('turn-auto').textContent()).toMatch(/^The prompt is [\d,]+ tokens; a full KV cache \([\d.]+ MiB\) fits/);
    await page.getByRole('button', { name: 'Close cache and speed' }).click();
  });

  it('says in the model manager which CPU code and GPU backend the engine runs', async () => {
    await ui(page).modelButton().click();
    const current = page.getByRole('region', { name: 'Current model' });
    await expect.poll(() => current.getByTestId('engine-cpu').textContent()).toMatch(/^(CPU variant [a-z0-9_.]+|CPU code built for this machine).*\((SSE3|NEON)/);
    await expect.poll(() => current.getByTestId('engine-gpu').textContent()).toMatch(/everything runs on the CPU|^GPU: /);
    await page.getByRole('button', { name: 'Close models' }).click();
    await expect.poll(() => current.count()).toBe(0);
  });

  it('stops a long answer and keeps what was written', async () => {
    await setSampling(page, { temperature: 0, maxTokens: 400 });
    await ui(page).message().fill('Write a long story about a lighthouse keeper.');
    await ui(page).message().press('Enter');
    const answer = ui(page).answers().nth(1);
    await expect.poll(async () => ((await answer.locator('.body').textContent()) ?? '').replace('Reading…', '').trim().length, { timeout: 60_000 }).toBeGreaterThan(5);
    // while it writes, the decoding rate so far
    await expect.poll(() => answer.getByTestId('live-decode').textContent()).toMatch(/^[\d.]+ tok\/s$/);
    await ui(page).stop().click();
    await expect.poll(() => answer.getAttribute('data-status')).toBe('cancelled');
    await expect.poll(() => answer.getByText('Stopped.').count()).toBe(1);
    expect(((await answer.locator('.body').textContent()) ?? '').trim().length).toBeGreaterThan(5);
    await expect.poll(() => ui(page).send().isVisible()).toBe(true);
  });

  it('regenerates the last answer', async () => {
    await setSampling(page, { temperature: 0, maxTokens: 16 });
    const before = await ui(page).answers().count();
    await ui(page).regenerate().click();
    const answer = ui(page).answers().last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 60_000 }).toBe('complete');
    expect(await ui(page).answers().count()).toBe(before);
    expect(((await answer.locator('.body').textContent()) ?? '').trim().length).toBeGreaterThan(0);
    await expect.poll(() => answer.getByText(/^TTFT /).count()).toBe(1);
    // the conversation up to the regenerated answer was still in the cache: the badge says so
    await expect.poll(() => answer.getByText(/^TTFT .* · [\d,]+ cached$/).count()).toBe(1);
  });

  it('renames the chat', async () => {
    await page.getByRole('button', { name: `Rename chat ${QUESTION}` }).click();
    const input = page.getByRole('textbox', { name: 'Chat title' });
    await input.fill(RENAMED);
    await input.press('Enter');
    await expect.poll(() => ui(page).chatTitles().allTextContents()).toContain(RENAMED);
    await expect.poll(() => ui(page).heading().textContent()).toBe(RENAMED);
  });

  it('searches chats by title and by message text', async () => {
    await ui(page).newChat().click();
    await expect.poll(() => ui(page).chatTitles().allTextContents()).toEqual(['New chat', RENAMED]);

    await ui(page).search().fill('geography');
    await expect.poll(() => ui(page).chatTitles().allTextContents()).toEqual([RENAMED]);
    await ui(page).search().fill('lighthouse');
    await expect.poll(() => ui(page).chatTitles().allTextContents()).toEqual([RENAMED]);
    await ui(page).search().fill('zebra');
    await expect.poll(() => ui(page).chatTitles().count()).toBe(0);
    await expect.poll(() => ui(page).chatList().textContent()).toContain('No chats match');
    await ui(page).search().fill('');
    await expect.poll(() => ui(page).chatTitles().count()).toBe(2);
  });

  it('deletes a chat and brings it back with undo', async () => {
    await page.getByRole('button', { name: `Open chat ${RENAMED}` }).click();
    await page.getByRole('button', { name: `Delete chat ${RENAMED}` }).click();
    await expect.poll(() => ui(page).chatTitles().allTextContents()).toEqual(['New chat']);
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => ui(page).chatTitles().allTextContents()).toContain(RENAMED);
    await expect.poll(() => ui(page).heading().textContent()).toBe(RENAMED);
  });

  it('finds everything again after a page reload and after a server restart', async () => {
    const expectConversation = async () => {
      await expect.poll(() => ui(page).chatTitles().allTextContents(), { timeout: 30_000 }).toContain(RENAMED);
      await page.getByRole('button', { name: `Open chat ${RENAMED}` }).click();
      await expect.poll(() => ui(page).questions().count()).toBe(2);
      expect(await ui(page).answers().count()).toBe(2);
      expect(await ui(page).answers().first().getAttribute('data-status')).toBe('complete');
      expect(await ui(page).answers().last().getAttribute('data-status')).toBe('complete');
      expect(await ui(page).answers().first().getByText(/^TTFT /).count()).toBe(1);
    };
    const firstAnswer = await ui(page).answers().first().locator('.body').textContent();

    await page.reload();
    await expectConversation();
    expect(await ui(page).answers().first().locator('.body').textContent()).toBe(firstAnswer);

    // a new server on the same data dir, without --model: the last model comes back by itself
    await serve.stop();
    serve = await startServe({ dataDir });
    await page.goto(serve.url);
    await expectConversation();
    expect(await ui(page).answers().first().locator('.body').textContent()).toBe(firstAnswer);
    await expect.poll(() => ui(page).modelButton().textContent(), { timeout: 120_000 }).toContain('Smollm2');
  });

  it('builds a policy from the presses in settings, refuses what cannot combine, and shows what each press did', async () => {
    await ui(page).newChat().click();
    await setSampling(page, { temperature: 0, maxTokens: 8 });
    await ui(page).settings().click();
    await page.getByText('Build a policy from presses').click();
    await page.getByRole('checkbox', { name: 'Use VATP' }).check();
    await page.getByRole('textbox', { name: 'vatp budget' }).fill('0.5');
    await expect.poll(() => page.getByTestId('built-policy').textContent()).toBe('vatp:budget=0.5');
    await page.getByRole('combobox', { name: 'vatp score' }).selectOption('acc');
    await page.getByRole('checkbox', { name: 'Use Lazy prefill' }).check();
    await expect.poll(() => page.getByTestId('policy-error').textContent()).toBe(
      "vatp:score=acc sums every query's attention, and a lazy prefill observes only the last ones; use score=window with lazy",
    );
    expect(await page.getByRole('button', { name: 'Use this policy' }).isDisabled()).toBe(true);
    await page.getByRole('checkbox', { name: 'Use Lazy prefill' }).uncheck();
    await page.getByRole('combobox', { name: 'vatp score' }).selectOption('');
    await page.getByRole('checkbox', { name: 'Use KV cache type' }).check();
    await page.getByRole('combobox', { name: 'kv type' }).selectOption('q8_0');
    await page.getByRole('button', { name: 'Use this policy' }).click();
    const chosen = 'kv:type=q8_0+vatp:budget=0.5';
    await expect.poll(() => page.getByRole('combobox', { name: 'KV-cache policy' }).inputValue()).toBe(chosen);
    await page.getByRole('button', { name: 'Close chat settings' }).click();

    await ui(page).message().fill(QUESTION);
    await ui(page).message().press('Enter');
    await expect.poll(() => ui(page).answers().last().getAttribute('data-status'), { timeout: 60_000 }).toBe('complete');
    await page.getByRole('button', { name: 'Cache and speed details' }).click();
    const info = page.getByRole('complementary', { name: 'Cache and speed' });
    await expect.poll(() => info.getByTestId('turn-policy').textContent()).toBe(chosen);
    await expect.poll(() => info.getByTestId('turn-press-kv').textContent()).toBe('K and V stored as q8_0');
    await expect.poll(() => info.getByTestId('turn-press-vatp').textContent()).toMatch(/^budget [\d,]+ tokens: evicted \d+ in \d+ rounds?, kept [\d,]+$/);
    await expect.poll(() => info.getByTestId('turn-kv').textContent()).toMatch(/allocated \(predicted /);
  });

  it('takes a KV budget in settings, refuses a wrong one with the reason, and shows the next turn it predicts', async () => {
    await ui(page).newChat().click();
    await ui(page).settings().click();
    const budget = page.getByRole('textbox', { name: 'KV budget' });
    const prediction = page.getByTestId('kv-budget-prediction');
    // no cap: auto gives SmolLM2 its whole 8k context of f16 KV (180 MiB)
    await expect.poll(() => prediction.textContent(), { timeout: 30_000 }).toMatch(/^This chat's next turn: auto: full · 180\.0 MiB of KV/);
    await budget.fill('lots');
    await budget.press('Enter');
    await expect.poll(() => page.getByTestId('kv-budget-problem').textContent()).toBe('"lots" is not a KV budget: write auto, a size such as 512mb or 1.5gb, or a token count such as 4096.');
    await budget.fill('20mb');
    await budget.press('Enter');
    await expect.poll(() => page.getByTestId('kv-budget-problem').count()).toBe(0);
    await expect.poll(() => prediction.textContent(), { timeout: 30_000 }).not.toMatch(/auto: full/);
    const kv = /· ([\d.]+) (KiB|MiB) of KV/.exec((await prediction.textContent()) ?? '');
    expect(kv).not.toBeNull();
    expect(Number(kv![1]) * (kv![2] === 'MiB' ? 1024 : 1)).toBeLessThanOrEqual(20 * 1024);
    // persisted with the chat
    await page.reload();
    await ui(page).settings().click();
    await expect.poll(() => page.getByRole('textbox', { name: 'KV budget' }).inputValue()).toBe('20mb');
    await page.getByRole('button', { name: 'Close chat settings' }).click();
  });

  it('shows the prompt being read live, then reads only what a follow-up adds', async () => {
    await ui(page).newChat().click();
    await setSampling(page, { temperature: 0, maxTokens: 12 });
    // ~1,500 tokens of real prose: long enough to watch being read on two cores
    const text = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/lazy-prose/idle-help.txt'), 'utf8').slice(0, 6000);
    await page.getByLabel('Choose documents to attach').setInputFiles({ name: 'idle-help.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
    await page.getByRole('list', { name: 'Documents to send' }).getByText('idle-help.txt').waitFor();
    await ui(page).message().fill("What was the harbour master of Lindqvist's name?");
    await ui(page).message().press('Enter');
    // while it reads: tokens read of the prompt, the rate, the time left, and a counting TTFT
    await expect.poll(() => page.getByTestId('prefill-detail').textContent(), { timeout: 60_000 }).toMatch(/^[\d,]+ \/ [\d,]+ tokens · [\d,]+ tok\/s · about .+ left$/);
    await expect.poll(() => page.getByTestId('ttft-counter').textContent()).toMatch(/\d/);
    // the per-layer chart fills while it reads, and the header's meter shows the KV in use now and the free RAM
    await expect.poll(() => page.getByTestId('live-layer-chart').getByRole('img', { name: /^Tokens per layer so far, 30 layers$/ }).count(), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => page.getByTestId('kv-meter-value').textContent()).toMatch(/[\d.]+ (B|KiB|MiB) \/ [\d.]+ MiB now|[\d.]+ MiB allocated, filling/);
    await expect.poll(() => page.getByTestId('kv-meter-free').textContent()).toMatch(/^· [\d.]+ (MiB|GiB) RAM free$/);
    const first = ui(page).answers().last();
    await expect.poll(() => first.getAttribute('data-status'), { timeout: 60_000 }).toBe('complete');
    await expect.poll(() => page.getByTestId('prefill-detail').count()).toBe(0);

    await ui(page).message().fill('What does the Zoom/Restore Height toggle do?');
    // the preview is asked of the engine after a pause in typing: give it the time a busy machine takes
    await expect.poll(() => page.getByTestId('turn-preview').textContent(), { timeout: 30_000 }).toMatch(/\(1,[\d]{3} cached, \d{1,2} to read\)/);
    // the document's plain read taught this machine's prefill rate: the follow-up's wait is predicted
    await expect.poll(() => page.getByTestId('turn-preview').textContent()).toMatch(/ · first token in about [\d.]+ (ms|s)$/);
    expect(await page.getByTestId('turn-preview').getAttribute('title')).toMatch(/First token: the arithmetic of the tokens still to read at the rate of the last \d+ plain prefills? of this model on this machine, loaded as now\./);
    await ui(page).message().press('Enter');
    const followUp = ui(page).answers().last();
    await expect.poll(() => followUp.getAttribute('data-status'), { timeout: 60_000 }).toBe('complete');
    // the document was not read again: the badge counts what the cache held
    await expect.poll(() => followUp.getByText(/^TTFT /).textContent()).toMatch(/^TTFT .* · 1,[\d]{3} cached$/);
    await page.getByRole('button', { name: 'Cache and speed details' }).click();
    const info = page.getByRole('complementary', { name: 'Cache and speed' });
    await expect.poll(() => info.getByTestId('turn-conversation').textContent()).toMatch(/^reused 1,\d{3} prompt tokens the last turn left; kept whole for the next question$/);
    await page.getByRole('button', { name: 'Close cache and speed' }).click();
  });

  it('after a restart, a new chat on the same document loads its saved cache instead of reading it', async () => {
    // the last test's document was read whole: its cache was saved in the data folder meanwhile
    await serve.stop();
    serve = await startServe({ dataDir });
    await page.goto(serve.url);
    await ui(page).modelButton().filter({ hasText: 'Smollm2' }).waitFor({ timeout: 120_000 });
    await ui(page).newChat().click();
    await setSampling(page, { temperature: 0, maxTokens: 8 });
    const text = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/lazy-prose/idle-help.txt'), 'utf8').slice(0, 6000);
    await page.getByLabel('Choose documents to attach').setInputFiles({ name: 'idle-help.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
    await page.getByRole('list', { name: 'Documents to send' }).getByText('idle-help.txt').waitFor();
    await ui(page).message().fill('Which menu holds the Zoom/Restore Height toggle?');
    await expect.poll(() => page.getByTestId('turn-preview').textContent(), { timeout: 30_000 }).toMatch(/\(1,[\d]{3} saved on disk, \d{1,2} to read\)/);
    await ui(page).message().press('Enter');
    const answer = ui(page).answers().last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 60_000 }).toBe('complete');
    await expect.poll(() => answer.getByText(/^TTFT /).textContent()).toMatch(/^TTFT .* · 1,[\d]{3} from disk$/);
    await page.getByRole('button', { name: 'Cache and speed details' }).click();
    const info = page.getByRole('complementary', { name: 'Cache and speed' });
    await expect.poll(() => info.getByTestId('turn-conversation').textContent()).toMatch(/^restored 1,\d{3} prompt tokens saved on disk \([\d.]+ MiB in .+\); kept whole for the next question$/);
    await page.getByRole('button', { name: 'Close cache and speed' }).click();

    // the settings list it with its size, and delete it
    await ui(page).settings().click();
    const saved = page.getByRole('region', { name: 'Saved document caches' });
    await expect.poll(() => saved.getByTestId('saved-kv-entry').first().textContent()).toMatch(/idle-help\.txt.*1,\d{3} tokens · [\d.]+ MiB · full/);
    await expect.poll(() => saved.getByTestId('saved-kv-total').textContent()).toMatch(/^[\d.]+ MiB of 4\.0 GiB in .*saved-kv$/);
    await saved.getByRole('button', { name: 'Delete all saved caches' }).click();
    await expect.poll(() => saved.getByTestId('saved-kv-empty').count()).toBe(1);
    await page.getByRole('button', { name: 'Close chat settings' }).click();
  });

  it('changes how the model loads in settings: refuses a wrong value, predicts the KV, reloads, and keeps it', async () => {
    await ui(page).newChat().click();
    await ui(page).settings().click();
    const context = page.getByRole('textbox', { name: 'Context size' });
    const prediction = page.getByTestId('context-size-prediction');
    // auto: SmolLM2's trained 8k context, 180 MiB of f16 KV when full
    await expect.poll(() => prediction.textContent(), { timeout: 30_000 }).toMatch(/Opens 8,192 tokens:\s+180\.0 MiB of full-precision KV/);
    await context.fill('100');
    await context.press('Enter');
    await expect.poll(() => page.getByTestId('context-size-problem').textContent()).toBe('Context size is auto or a whole number from 256 to 1,048,576.');
    // typed, not yet applied: the prediction follows the field
    await context.fill('2048');
    await expect.poll(() => prediction.textContent()).toMatch(/Opens 2,048 tokens:\s+45\.0 MiB/);
    await context.press('Enter');
    await expect.poll(() => page.getByTestId('context-size-problem').count()).toBe(0);
    await page.getByRole('textbox', { name: 'CPU threads' }).fill('1');
    await page.getByRole('textbox', { name: 'CPU threads' }).press('Enter');
    await expect.poll(() => page.getByTestId('load-settings-applying').count(), { timeout: 60_000 }).toBe(0);
    // a CPU build says GPU layers do not apply, and the field is off
    await expect.poll(() => page.getByTestId('gpu-layers-note').textContent()).toMatch(/everything runs on the CPU|GPU: /);
    await page.getByRole('button', { name: 'Close chat settings' }).click();
    // the model manager shows the model as loaded again
    await ui(page).modelButton().click();
    const current = page.getByRole('region', { name: 'Current model' });
    await expect.poll(() => current.textContent(), { timeout: 60_000 }).toMatch(/2,048-token context\s+·\s+1 threads/);
    await page.getByRole('button', { name: 'Close models' }).click();
    // kept across a reload of the page
    await page.reload();
    await ui(page).settings().click();
    await expect.poll(() => page.getByRole('textbox', { name: 'Context size' }).inputValue()).toBe('2048');
    await expect.poll(() => page.getByRole('textbox', { name: 'CPU threads' }).inputValue()).toBe('1');
    // back to auto for whatever runs after
    await page.getByRole('textbox', { name: 'Context size' }).fill('');
    await page.getByRole('textbox', { name: 'Context size' }).press('Enter');
    await expect.poll(() => page.getByTestId('context-size-prediction').textContent(), { timeout: 60_000 }).toMatch(/Opens 8,192 tokens/);
    await page.getByRole('button', { name: 'Close chat settings' }).click();
  });
});
