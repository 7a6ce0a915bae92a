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
