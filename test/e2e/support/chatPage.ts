// The chat UI as a test sees it: accessible names only, the same ones a screen reader announces.
import type { Page } from 'playwright-core';

export const ui = (page: Page) => ({
  newChat: () => page.getByRole('button', { name: 'New chat', exact: true }),
  modelButton: () => page.getByRole('button', { name: 'Open model manager' }),
  settings: () => page.getByRole('button', { name: 'Chat settings' }),
  message: () => page.getByRole('textbox', { name: 'Message' }),
  send: () => page.getByRole('button', { name: 'Send message' }),
  stop: () => page.getByRole('button', { name: 'Stop answer' }),
  regenerate: () => page.getByRole('button', { name: 'Regenerate answer' }),
  search: () => page.getByRole('searchbox', { name: 'Search chats' }),
  chatList: () => page.getByRole('navigation', { name: 'Chat list' }),
  chatTitles: () => page.getByRole('navigation', { name: 'Chat list' }).locator('.title'),
  answers: () => page.locator('li.message.assistant'),
  questions: () => page.locator('li.message.user'),
  heading: () => page.locator('h1.title'),
});

/** Sets this chat's sampling through the settings drawer, as a user would. */
export async function setSampling(page: Page, { temperature, maxTokens }: { temperature: number; maxTokens: number }): Promise<void> {
  await ui(page).settings().click();
  await page.getByRole('slider', { name: 'Temperature' }).fill(String(temperature));
  const max = page.getByRole('spinbutton', { name: 'Max answer tokens' });
  await max.fill(String(maxTokens));
  await max.press('Tab');
  await page.getByRole('button', { name: 'Close chat settings' }).click();
}

/** Records every length the last answer's text passes through, to prove it streamed. */
export async function watchAnswerLengths(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: number[] = [];
    (window as unknown as { __answerLengths: number[] }).__answerLengths = seen;
    new MutationObserver(() => {
      const bodies = document.querySelectorAll('li.message.assistant .body');
      const last = bodies[bodies.length - 1];
      const length = last?.textContent?.length ?? 0;
      if (seen.at(-1) !== length) seen.push(length);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

export function answerLengths(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { __answerLengths: number[] }).__answerLengths);
}

/** What the live indicators showed during a turn, recorded on every change of the page. */
export interface IndicatorLog {
  progress: number[];
  chartLayers: number[];
  kvMeter: string[];
  ttftCounter: string[];
}

/** Starts recording the live indicators (progress bar, per-layer chart, KV meter, TTFT counter). */
export async function watchIndicators(page: Page): Promise<void> {
  await page.evaluate(() => {
    const log = { progress: [] as number[], chartLayers: [] as number[], kvMeter: [] as string[], ttftCounter: [] as string[] };
    (window as unknown as { __indicators: typeof log }).__indicators = log;
    const push = <T>(list: T[], value: T | null | undefined) => {
      if (value !== null && value !== undefined && list.at(-1) !== value) list.push(value);
    };
    new MutationObserver(() => {
      const bar = document.querySelector('[role="progressbar"][aria-label="Prompt reading progress"]');
      push(log.progress, bar ? Number(bar.getAttribute('aria-valuenow')) : null);
      const chart = document.querySelector('[data-testid="live-layer-chart"] [role="img"]');
      push(log.chartLayers, chart ? chart.querySelectorAll('.bar').length : null);
      push(log.kvMeter, document.querySelector('[data-testid="kv-meter-value"]')?.textContent?.trim());
      push(log.ttftCounter, document.querySelector('[data-testid="ttft-counter"]')?.textContent?.trim());
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

export function indicatorLog(page: Page): Promise<IndicatorLog> {
  return page.evaluate(() => (window as unknown as { __indicators: IndicatorLog }).__indicators);
}

/** Drops a file on the conversation, as a person dragging it from their file manager would. */
export async function dropFile(page: Page, name: string, mime: string, bytes: Buffer): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    ({ name, mime, base64 }) => {
      const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([data], name, { type: mime }));
      return transfer;
    },
    { name, mime, base64: bytes.toString('base64') },
  );
  await page.getByRole('main', { name: 'Conversation' }).dispatchEvent('drop', { dataTransfer });
}
