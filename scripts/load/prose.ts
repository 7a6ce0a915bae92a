// Deterministic prose for load runs: a word-bigram chain over the public-domain corpus in
// resources/prose, driven by a seeded PRNG. One repeated string would compress into a few
// FTS terms and pages; chained real words give the index and the pages a realistic vocabulary.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../../src-engine/sampling.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CORPUS = ['us-constitution.txt', 'jargon-file.txt', 'sqlite-docs.txt'].map((name) => path.join(repoRoot, 'resources/prose', name));

const QUESTION_STEMS = [
  'What does the document say about',
  'Can you explain why',
  'Where in the text is there anything on',
  'How does the author describe',
  'Summarise the part about',
  'Is it true that',
  'Which passage mentions',
  'Why would',
];

const SENTENCE_END = /[.?!]["')]?$/;
/** A sentence that never meets a full stop is cut here, so one draw cannot run away. */
const MAX_SENTENCE_WORDS = 45;

export interface Prose {
  random(): number;
  /** An integer in [min, max]. */
  between(min: number, max: number): number;
  /** A user question of about `chars` characters, ending with a question mark. */
  question(chars: number): string;
  /** Paragraphs of sentences, at least `chars` characters long (cut at a sentence end). */
  text(chars: number): string;
}

export function createProse(seed: number): Prose {
  const words = CORPUS.flatMap((file) => readFileSync(file, 'utf8').split(/\s+/)).filter((w) => w !== '');
  const next = new Map<string, string[]>();
  const starts: string[] = [];
  for (let i = 0; i + 1 < words.length; i++) {
    const word = words[i]!;
    const following = words[i + 1]!;
    let list = next.get(word);
    if (!list) next.set(word, (list = []));
    list.push(following);
    if (SENTENCE_END.test(word) && /^[A-Z]/.test(following)) starts.push(following);
  }
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));

  const sentence = (): string => {
    const out = [pick(starts)];
    while (out.length < MAX_SENTENCE_WORDS && !SENTENCE_END.test(out.at(-1)!)) {
      const options = next.get(out.at(-1)!);
      out.push(options ? pick(options) : pick(starts));
    }
    const last = out.at(-1)!;
    if (!SENTENCE_END.test(last)) out[out.length - 1] = `${last.replace(/[,;:]$/, '')}.`;
    return out.join(' ');
  };

  return {
    random,
    between,
    question(chars) {
      const out = [pick(QUESTION_STEMS), pick(starts).toLowerCase()];
      let length = out.join(' ').length;
      while (length < chars) {
        const options = next.get(out.at(-1)!);
        const word = options ? pick(options) : pick(starts).toLowerCase();
        out.push(word);
        length += word.length + 1;
      }
      return `${out.join(' ').replace(/[.?!,;:"')]+$/, '')}?`;
    },
    text(chars) {
      const paragraphs: string[] = [];
      let length = 0;
      while (length < chars) {
        const sentences: string[] = [];
        const count = between(2, 7);
        for (let i = 0; i < count && length < chars; i++) {
          const s = sentence();
          sentences.push(s);
          length += s.length + 1;
        }
        paragraphs.push(sentences.join(' '));
        length += 1;
      }
      return paragraphs.join('\n\n');
    },
  };
}
