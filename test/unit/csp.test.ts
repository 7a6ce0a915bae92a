// The three Content-Security-Policies the renderer runs under (the page's meta tag, the header the
// Electron session adds, the header `sift serve` sends) each keep scripts to the app's own files:
// injected markup can neither run code nor load it, frame the page, post forms or rebase links.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ELECTRON_CSP } from '../../src-main/app/windowOptions.js';
import { serveCsp } from '../../src-main/api/staticFiles.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');

function metaPolicy(): string {
  const html = fs.readFileSync(path.join(root, 'src-renderer/index.html'), 'utf8');
  const match = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error('index.html has no CSP meta tag');
  return match[1];
}

function directives(policy: string): Map<string, string[]> {
  return new Map(
    policy
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

const POLICIES = {
  'index.html meta tag': metaPolicy(),
  'Electron session header': ELECTRON_CSP,
  'sift serve header': serveCsp(43210),
};

describe.each(Object.entries(POLICIES))('%s', (_where, policy) => {
  const parsed = directives(policy);

  it('falls back to nothing, and runs only the app’s own scripts', () => {
    expect(parsed.get('default-src')).toEqual(["'none'"]);
    expect(parsed.get('script-src')).toEqual(["'self'"]);
    // no inline handlers, no eval, no other origin, whatever else the policy allows
    expect(policy).not.toMatch(/'unsafe-eval'|'unsafe-hashes'|'strict-dynamic'|'wasm-unsafe-eval'/);
    expect(parsed.has('script-src-attr')).toBe(false);
    expect(parsed.has('script-src-elem')).toBe(false);
  });

  it('allows no plugin, frame, form target or base rewrite', () => {
    expect(parsed.has('object-src')).toBe(false); // default-src 'none' covers it
    expect(parsed.has('frame-src')).toBe(false);
    expect(parsed.has('child-src')).toBe(false);
    expect(parsed.get('base-uri')).toEqual(["'none'"]);
    expect(parsed.get('form-action')).toEqual(["'none'"]);
  });

  it('connects only to itself and loopback WebSockets', () => {
    for (const source of parsed.get('connect-src') ?? []) {
      expect(source).toMatch(/^('self'|ws:\/\/(127\.0\.0\.1|localhost):(\*|\d+))$/);
    }
    for (const source of parsed.get('img-src') ?? []) expect(["'self'", 'data:', 'blob:']).toContain(source);
  });
});

it('headers also forbid framing the app (a meta tag cannot)', () => {
  expect(directives(ELECTRON_CSP).get('frame-ancestors')).toEqual(["'none'"]);
  expect(directives(serveCsp(1)).get('frame-ancestors')).toEqual(["'none'"]);
});
