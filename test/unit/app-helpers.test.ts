// Small pure helpers of the app layer: how history becomes a prompt, chat titles, serve arguments,
// links that may leave the app, and the menu.
import { describe, expect, it } from 'vitest';
import { appMenuTemplate } from '../../src-main/app/appMenu.js';
import { isExternalLink } from '../../src-main/app/webSecurity.js';
import { mainWindowOptions } from '../../src-main/app/windowOptions.js';
import { parseServeArgs } from '../../src-main/cli/serve.js';
import { titleFromQuestion } from '../../src-main/session/sessionTitle.js';
import { buildTurnMessages } from '../../src-main/session/turnPlan.js';
import { messageRow } from '../fixtures/store/messageRow.js';

const message = messageRow;

describe('buildTurnMessages', () => {
  it('puts the system prompt first, composes documents into questions, and skips empty answers', () => {
    const docs = new Map([['d1', { name: 'log.md', text: 'The light is red.' }]]);
    const history = [
      message({ id: 'u1', content: 'What color?', documentIds: ['d1'] }),
      message({ id: 'a1', role: 'assistant', content: 'Red.' }),
      message({ id: 'u2', content: 'Sure?' }),
      message({ id: 'a2', role: 'assistant', content: '', status: 'error' }),
      message({ id: 'u3', content: 'Again?' }),
    ];
    const messages = buildTurnMessages('Be brief.', history, docs);
    expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'user']);
    expect(messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    // the document's text first, the question last (src-main/session/documentPrompt.ts)
    expect(messages[1]?.content).toBe('The light is red.\n\nWhat color?');
  });

  it('leaves out a blank system prompt', () => {
    expect(buildTurnMessages('  ', [message({ content: 'hi' })], new Map())).toEqual([{ role: 'user', content: 'hi' }]);
  });
});

describe('titleFromQuestion', () => {
  it('keeps short questions and cuts long ones at a word', () => {
    expect(titleFromQuestion('  What is\nthe capital?  ')).toBe('What is the capital?');
    const title = titleFromQuestion('Summarize the termination clauses of this contract and compare them with the previous version');
    expect(title.length).toBeLessThanOrEqual(49);
    expect(title.endsWith('…')).toBe(true);
    expect(title).not.toMatch(/\s…$/);
  });
});

describe('parseServeArgs', () => {
  it('reads port, model, build and context', () => {
    const args = parseServeArgs(['--port', '8123', '--model', 'm.gguf', '--build', 'stock', '--context', '4096', '--calibration-tokens', '512']);
    expect(args).toMatchObject({ port: 8123, build: 'stock', contextSize: 4096, calibrationTokens: 512 });
    expect(args.model).toMatch(/m\.gguf$/);
    expect(parseServeArgs([]).port).toBe(0);
  });

  it('rejects what it does not understand (there is no --host: serve binds loopback only)', () => {
    expect(() => parseServeArgs(['--host', '0.0.0.0'])).toThrow(/unknown option/);
    expect(() => parseServeArgs(['--port', '70000'])).toThrow(/--port/);
    expect(() => parseServeArgs(['--model'])).toThrow(/needs a value/);
    expect(() => parseServeArgs(['--build', 'fast'])).toThrow(/--build/);
    expect(() => parseServeArgs(['--calibration-tokens', '100'])).toThrow(/at least 256/);
  });
});

describe('app shell helpers', () => {
  it('lets only web and mail links leave the app', () => {
    expect(isExternalLink('https://example.com')).toBe(true);
    expect(isExternalLink('mailto:a@b.c')).toBe(true);
    expect(isExternalLink('file:///etc/passwd')).toBe(false);
    expect(isExternalLink('javascript:alert(1)')).toBe(false);
    expect(isExternalLink('not a url')).toBe(false);
  });

  it('builds a menu with New Chat on every platform and the app menu on macOS', () => {
    const actions = { newChat: () => undefined, openDataFolder: () => undefined, openHelp: () => undefined };
    const mac = appMenuTemplate('darwin', actions);
    const linux = appMenuTemplate('linux', actions);
    expect(mac[0]).toEqual({ role: 'appMenu' });
    expect(linux[0]?.label).toBe('File');
    const file = linux[0]?.submenu as Array<{ label?: string; accelerator?: string }>;
    expect(file[0]).toMatchObject({ label: 'New Chat', accelerator: 'CmdOrCtrl+N' });
  });

  it('never shows the window before it has content', () => {
    expect(mainWindowOptions('/p.cjs').show).toBe(false);
  });
});
