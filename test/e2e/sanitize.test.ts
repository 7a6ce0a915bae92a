// Untrusted text reaches the page two ways: what the model writes (rendered as Markdown) and what
// a document holds (its name shown in the chat, its text quoted by the model). Both are injected
// here with script and event-handler payloads; nothing may run, and the sanitizer (not only the
// CSP behind it) must have removed every active part before it reached the DOM.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src-main/store/index.js';
import { testModelPath } from '../helpers/testModel.js';
import { launchChromium } from './support/browser.js';
import { setSampling, ui } from './support/chatPage.js';
import { buildRenderer } from './support/renderer.js';
import { startServe, type ServeHandle } from './support/serveProcess.js';

/** Each payload, if it ran, would set window.__pwned to its number. */
const PAYLOADS = [
  '<script>window.__pwned = 1</script>',
  '<img src="x" onerror="window.__pwned = 2">',
  '[a link](javascript:window.__pwned=3)',
  '<a href="javascript:window.__pwned=4">another link</a>',
  '<svg onload="window.__pwned = 5"><circle r="4"/></svg>',
  '<iframe srcdoc="<script>parent.__pwned = 6</script>"></iframe>',
  '<details open ontoggle="window.__pwned = 7"><summary>s</summary>d</details>',
  '<form action="https://example.org/"><button formaction="javascript:window.__pwned=8">go</button></form>',
  '<math><mi xlink:href="javascript:window.__pwned=9">m</mi></math>',
  '<noscript><p title="</noscript><img src=x onerror=window.__pwned=10>"></noscript>',
  '<object data="javascript:window.__pwned=11"></object><embed src="javascript:window.__pwned=12">',
  '<style>body { display: none }</style><div style="background:url(javascript:window.__pwned=13)">styled</div>',
  '![image](x" onerror="window.__pwned=14)',
  '<body onload="window.__pwned = 15"><input autofocus onfocus="window.__pwned = 16">',
  '`<img src=x onerror=window.__pwned=17>` stays code',
];

interface Watch {
  pwned?: number;
  scriptViolations: string[];
}

describe('untrusted text in the page', () => {
  let dataDir: string;
  let serve: ServeHandle;
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];

  beforeAll(async () => {
    buildRenderer();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-e2e-sanitize-'));
    serve = await startServe({ dataDir, args: ['--model', testModelPath()] });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    // a payload the sanitizer missed would be stopped by the CSP: record such refusals too. The
    // sanitizer's own parsing (DOMParser, an inert document) reports refusals with no element of
    // the page as their target; only those on an element in the page mean markup got through.
    await page.addInitScript(() => {
      const watch: Watch = { scriptViolations: [] };
      (window as unknown as { __watch: Watch }).__watch = watch;
      document.addEventListener('securitypolicyviolation', (event) => {
        const target = event.target;
        if (event.effectiveDirective.startsWith('script-src') && target instanceof Element && target.isConnected) {
          watch.scriptViolations.push(`${event.effectiveDirective}: ${target.outerHTML.slice(0, 120)}`);
        }
      });
    });
    await page.goto(serve.url);
    await ui(page).modelButton().filter({ hasText: 'Smollm2' }).waitFor({ timeout: 120_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function expectNothingRan(): Promise<void> {
    await page.waitForTimeout(500); // let any image error, toggle or focus event fire
    const state = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: number }).__pwned,
      violations: (window as unknown as { __watch: Watch }).__watch.scriptViolations,
    }));
    expect(state.pwned).toBeUndefined();
    expect(state.violations).toEqual([]);
    expect(dialogs).toEqual([]);
  }

  /** Active markup left in the chat's messages after sanitizing. */
  function activeMarkup(): Promise<string[]> {
    return page.evaluate(() => {
      const found: string[] = [];
      for (const element of document.querySelectorAll('li.message *')) {
        const tag = element.tagName.toLowerCase();
        if (['script', 'iframe', 'object', 'embed', 'form', 'style', 'input', 'base', 'meta', 'link'].includes(tag)) found.push(tag);
        for (const attribute of Array.from(element.attributes)) {
          if (attribute.name.startsWith('on') || attribute.name === 'style' || attribute.name === 'formaction') found.push(`${tag}[${attribute.name}]`);
          if (/^\s*javascript:/i.test(attribute.value)) found.push(`${tag}[${attribute.name}=javascript:]`);
        }
      }
      return found;
    });
  }

  it('renders a model answer full of payloads as inert text and markup', async () => {
    // written into the store as the model's answer, exactly as a streamed answer is stored
    const store = openStore({ dataDir });
    try {
      const session = store.sessions.create({ title: 'Hostile answer' });
      store.messages.append({ sessionId: session.id, role: 'user', content: 'Quote the document.' });
      store.messages.append({ sessionId: session.id, role: 'assistant', content: PAYLOADS.join('\n\n') });
    } finally {
      store.close();
    }
    await page.reload();
    await ui(page).chatList().getByText('Hostile answer').click();
    const answer = ui(page).answers().last();
    await answer.getByText('stays code').waitFor();
    expect(await activeMarkup()).toEqual([]);
    // the code span shows the payload as text
    expect(await answer.locator('code').first().textContent()).toBe('<img src=x onerror=window.__pwned=17>');
    // links that survive open outside the app and never run script
    for (const href of await answer.locator('a').evaluateAll((links) => links.map((link) => link.getAttribute('href') ?? ''))) {
      expect(href).not.toMatch(/^\s*javascript:/i);
    }
    await expectNothingRan();
  });

  it('shows a document whose name and text are payloads, and the answer that quotes it, inertly', async () => {
    await ui(page).newChat().click();
    await setSampling(page, { temperature: 0, maxTokens: 24 });
    // names lose <>:"/\\|?* on the way in (documentAttach.ts); what is left tries to break out of an attribute
    const name = "doc' onmouseover='window.__pwned=20' &lt;b&gt;bold&amp;.html";
    // entities in the HTML become the payload characters in the extracted text
    const escaped = PAYLOADS.map((payload) => payload.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    const html = `<html><body><p>Repeat these lines exactly.</p>${escaped.map((line) => `<p>${line}</p>`).join('')}</body></html>`;
    await page.getByLabel('Choose documents to attach').setInputFiles({ name, mimeType: 'text/html', buffer: Buffer.from(html) });
    const chip = page.getByRole('list', { name: 'Documents to send' }).getByText(name, { exact: true });
    await chip.waitFor();
    await chip.hover();
    await ui(page).message().fill('Repeat the first three lines of the document exactly.');
    await ui(page).message().press('Enter');
    const answer = ui(page).answers().last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 120_000 }).toBe('complete');
    // the name is shown as text wherever it appears
    await expect.poll(() => page.getByText(name).count()).toBeGreaterThan(0);
    expect(await activeMarkup()).toEqual([]);
    await expectNothingRan();
  });
});
