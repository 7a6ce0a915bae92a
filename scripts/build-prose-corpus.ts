// Builds the real-prose corpus of the document QA benchmark (resources/prose/) from public-
// domain texts that Debian packages ship: downloads each pinned .deb with apt-get, checks its
// sha256, unpacks it with dpkg-deb and writes plain text, one paragraph a line pair. The output is
// committed; this script says how it was made and rebuilds it byte for byte.
//
// Usage: tsx scripts/build-prose-corpus.ts   (needs apt-get and dpkg-deb, a Debian system)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { htmlDocumentToText } from '../src-main/documents/html.js';

interface DebSource {
  pkg: string;
  version: string;
  sha256: string;
}

/** Each text's package, pinned (Debian 12 "bookworm"). */
const DEBS: Record<string, DebSource> = {
  miscfiles: { pkg: 'miscfiles', version: '1.5+dfsg-4', sha256: 'b29fdc907760ded52adbc1b4322da22b94108cd124caf0b23da8c23cc3578a28' },
  jargon: { pkg: 'dict-jargon', version: '4.4.7-3.1', sha256: '405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1' },
  sqlite: { pkg: 'sqlite3-doc', version: '3.40.1-2+deb12u2', sha256: '466e30d7066e2641fa13e56bc662a2ad521b8cc9c17dde9c9dac3d4f105e32f2' },
};

/** Enough prose for an 8k-token document with room to start at different places. */
const MAX_CHARS = 48_000;
const OUT_DIR = path.join(import.meta.dirname, '../resources/prose');

function run(cmd: string, args: string[], cwd: string): void {
  const res = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
}

function unpack(work: string, deb: DebSource): string {
  run('apt-get', ['download', `${deb.pkg}=${deb.version}`], work);
  const file = path.join(work, `${deb.pkg}_${deb.version.replace(/^\d+:/, '')}_all.deb`);
  const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
  if (digest !== deb.sha256) throw new Error(`${file}: sha256 ${digest}, expected ${deb.sha256}`);
  const root = path.join(work, deb.pkg);
  run('dpkg-deb', ['-x', file, root], work);
  return root;
}

/** Paragraphs (blank-line separated), each joined onto one line with single spaces. */
function paragraphs(text: string): string[] {
  return text
    .replace(/\r/g, '')
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, ' ').trim())
    .filter((p) => p.length > 0);
}

function capped(paras: string[]): string {
  const kept: string[] = [];
  let size = 0;
  for (const p of paras) {
    if (size + p.length > MAX_CHARS) break;
    kept.push(p);
    size += p.length + 2;
  }
  return `${kept.join('\n\n')}\n`;
}

/** The US Constitution as miscfiles ships it (a US government work, public domain). */
function constitution(root: string): string {
  return capped(paragraphs(gunzipSync(readFileSync(path.join(root, 'usr/share/state/us-constitution.gz'))).toString('utf8')));
}

/**
 * Jargon File 4.4.7 entries of at least 90 words whose text is prose (no indented code or
 * diagrams), every third one from the letter H on, "headword: text", with the {cross-reference}
 * braces removed.
 */
function jargon(root: string): string {
  const raw = gunzipSync(readFileSync(path.join(root, 'usr/share/dictd/jargon.dict.dz'))).toString('utf8');
  const entries: Array<{ head: string; body: string[] }> = [];
  for (const line of raw.split('\n')) {
    if (/^\S/.test(line)) entries.push({ head: line.trim(), body: [] });
    else entries.at(-1)?.body.push(line);
  }
  const prose = entries.filter((e) => {
    if (!/^[A-Za-z]/.test(e.head) || e.head.toLowerCase() < 'h') return false;
    // a headword line is followed by its part of speech (" n.", " adj.", " vt."); other lines at
    // column 0 are quotations inside an entry
    if (!/^\s+(n|adj|adv|v|vt|vi|interj|excl|prep|pron|conj|abbrev|pref|suff|obs)\b/.test(e.body[0] ?? '')) return false;
    if (e.body.some((l) => /^ {6,}\S/.test(l) || /[|_]{3,}|-{4,}/.test(l))) return false;
    const text = e.body.join(' ').replace(/\s+/g, ' ');
    return text.split(' ').length >= 90;
  });
  const paras: string[] = [];
  prose.forEach((e, i) => {
    if (i % 3 !== 0) return;
    // the first body line is the part of speech (" n.", " adj."), then paragraphs
    const body = paragraphs(e.body.join('\n').replace(/\{\s*([^}]*?)\s*\}/g, '$1'));
    const [first, ...rest] = body[0] !== undefined && body[0].split(' ').length <= 3 ? body.slice(1) : body;
    if (first === undefined) return;
    paras.push(`${e.head}: ${first}`, ...rest);
  });
  return capped(paras);
}

/** SQLite's "Atomic Commit In SQLite" and "How To Corrupt An SQLite Database File" (public domain), prose paragraphs only. */
function sqlite(root: string): string {
  const pages = ['atomiccommit.html', 'howtocorrupt.html'];
  const paras = pages.flatMap((page) => {
    const text = htmlDocumentToText(readFileSync(path.join(root, 'usr/share/doc/sqlite3', page), 'utf8'));
    // navigation, headings and code: paragraphs shorter than a sentence or two
    return paragraphs(text).filter((p) => p.split(' ').length >= 25 && /[.!?]$/.test(p));
  });
  return capped(paras);
}

function main(): void {
  const work = mkdtempSync(path.join(os.tmpdir(), 'sift-prose-'));
  try {
    const texts: Record<string, string> = {
      'us-constitution.txt': constitution(unpack(work, DEBS.miscfiles as DebSource)),
      'jargon-file.txt': jargon(unpack(work, DEBS.jargon as DebSource)),
      'sqlite-docs.txt': sqlite(unpack(work, DEBS.sqlite as DebSource)),
    };
    for (const [name, text] of Object.entries(texts)) {
      writeFileSync(path.join(OUT_DIR, name), text);
      console.log(`[prose-corpus] ${name}: ${text.length} chars, ${text.split(/\s+/).length} words`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
