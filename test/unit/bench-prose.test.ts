// The real-document QA builder (src-main/models/proseCases.ts): deterministic, facts where they were
// asked for, questions that paraphrase rather than quote, and the scoring of answers.
import { describe, expect, it } from 'vitest';
import { answerMatches, documentDepths, loadProseCorpus, normalizeAnswer, proseLength, type ProseLengthPlan } from '../../src-main/models/proseCases.js';
import { evenDepths } from '../bench/suite.js';

const corpus = loadProseCorpus();
const depths = evenDepths(20);

function plan(seed = 'test-seed', chars = 4000): ProseLengthPlan {
  return proseLength(1024, depths, corpus, () => chars, seed);
}

function words(text: string): string[] {
  return normalizeAnswer(text).split(' ').filter(Boolean);
}

/** Longest run of consecutive words the two texts share. */
function longestCommonRun(a: string[], b: string[]): number {
  let best = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < b.length; j++) {
      let k = 0;
      while (a[i + k] !== undefined && a[i + k] === b[j + k]) k++;
      best = Math.max(best, k);
    }
  }
  return best;
}

describe('prose QA corpus', () => {
  it('has several sources, each long enough for an 8k-token document', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(3);
    for (const source of corpus) expect(source.text.length).toBeGreaterThan(40_000);
  });
});

describe('proseLength', () => {
  it('is deterministic for a seed and differs with another seed', () => {
    const a = plan();
    const b = plan();
    expect(b.cases.map((c) => c.messages)).toEqual(a.cases.map((c) => c.messages));
    const c = plan('another-seed');
    expect(c.documents.map((d) => d.text)).not.toEqual(a.documents.map((d) => d.text));
  });

  it('deals 20 depths to 5 documents of 4 facts, with a two-passage question each, rotating sources', () => {
    const p = plan();
    expect(p.documents).toHaveLength(5);
    expect(new Set(p.documents.map((d) => d.sourceId)).size).toBe(corpus.length);
    for (const d of p.documents) {
      expect(d.facts).toHaveLength(4);
      expect(d.questions.filter((q) => q.kind === 'two-passage')).toHaveLength(1);
    }
    expect(p.cases.filter((c) => c.kind === 'single')).toHaveLength(20);
    expect(p.cases.map((c) => c.round)).toEqual(p.cases.map((_, i) => i));
    expect(documentDepths(evenDepths(5)).map((d) => d.length)).toEqual([3, 2]);
    expect(documentDepths(evenDepths(3))).toEqual([[0, 0.5, 1]]);
  });

  it('places every fact sentence once, near its requested depth', () => {
    for (const d of plan().documents) {
      for (const f of d.facts) {
        expect(d.text.split(f.sentence)).toHaveLength(2);
        const position = d.text.indexOf(f.sentence) / (d.text.length - f.sentence.length);
        expect(Math.abs(position - f.depth)).toBeLessThan(0.08);
        expect(f.placedDepth).toBeCloseTo(position, 6);
      }
    }
  });

  it('asks a two-passage question that needs facts far apart, answered by the detail fact', () => {
    for (const d of plan().documents) {
      const q = d.questions.find((x) => x.kind === 'two-passage')!;
      const [first, second] = q.facts.map((i) => d.facts[i]!);
      expect(Math.abs(first!.depth - second!.depth)).toBeGreaterThan(0.5);
      // the role sentence names the person; the detail sentence holds the answer; the question names neither
      const person = first!.entities[0]!;
      expect(second!.sentence).toContain(person);
      expect(q.question).not.toContain(person);
      expect(answerMatches(second!.sentence, q.accept)).toBe(true);
    }
  });

  it('paraphrases: no question quotes its fact sentence or contains its answer', () => {
    for (const d of plan().documents) {
      for (const q of d.questions) {
        expect(answerMatches(q.question, q.accept)).toBe(false);
        for (const i of q.facts) {
          const fact = d.facts[i]!;
          // the names are the only words a question may share at length with its sentence
          let sentence = fact.sentence;
          let question = q.question;
          for (const name of fact.entities) {
            sentence = sentence.split(name).join(' xxnamex ');
            question = question.split(name).join(' yynamey ');
          }
          expect(longestCommonRun(words(sentence), words(question))).toBeLessThanOrEqual(2);
        }
        // the answer is stated in the document
        expect(q.facts.some((i) => answerMatches(d.facts[i]!.sentence, q.accept))).toBe(true);
      }
    }
  });

  it('sends each case in the app chat format: the default system prompt, then the document and the question', () => {
    const c = plan().cases[0]!;
    expect(c.messages).toHaveLength(2);
    expect(c.messages[0]!.role).toBe('system');
    expect(c.messages[1]!.content.endsWith(`\n\n${c.question}`)).toBe(true);
  });
});

describe('answerMatches', () => {
  it('accepts the key entity in other words and formats, and nothing else', () => {
    const date = [['14', 'march', '1887']];
    expect(answerMatches('She left on March 14th, 1887.', date)).toBe(true);
    expect(answerMatches('14 March 1888', date)).toBe(false);
    expect(answerMatches('It cost 3,450 crowns.', [['3450']])).toBe(true);
    expect(answerMatches('It cost 13450 crowns.', [['3450']])).toBe(false);
    expect(answerMatches('The harbour master was Mrs Corlett.', [['nadia corlett'], ['corlett']])).toBe(true);
    expect(answerMatches('Port Tessály', [['port tessaly'], ['tessaly']])).toBe(true);
  });
});
