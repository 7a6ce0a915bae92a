// The real-document QA task (issue 13): documents cut from public-domain prose
// (resources/prose/), with invented facts (names, dates, amounts, places) stated as ordinary
// sentences at chosen depths, and questions that paraphrase them rather than quote them. Some
// questions need two passages: one sentence names a person by a role, another far away says
// something about that person, and the question asks it by the role. Everything is a pure
// function of a seed, the corpus and the sizes, so every row and every run sees the same cases.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ChatMessage } from '../../src-common/engineTypes.js';
import { seededRandom as seededRandomFromNumber } from '../../src-engine/sampling.js';
import { composeUserMessage } from '../session/documentPrompt.js';
import { DEFAULT_SESSION_SETTINGS } from '../store/sessionDefaults.js';

export interface ProseSource {
  id: string;
  /** The whole text, paragraphs separated by a blank line. */
  text: string;
}

export const PROSE_SOURCE_FILES = ['us-constitution.txt', 'jargon-file.txt', 'sqlite-docs.txt'];
export const DEFAULT_PROSE_SEED = 'sift-prose-1';
const CORPUS_DIR = path.join(import.meta.dirname, '../../resources/prose');

export function loadProseCorpus(dir = CORPUS_DIR): ProseSource[] {
  return PROSE_SOURCE_FILES.map((file) => ({ id: file.replace(/\.txt$/, ''), text: readFileSync(path.join(dir, file), 'utf8').trim() }));
}

export type FactKind = 'person' | 'date' | 'amount' | 'place';

export interface PlacedFact {
  kind: FactKind;
  /** The requested depth (a fraction of the document) and the one the sentence landed at. */
  depth: number;
  placedDepth: number;
  sentence: string;
  /** Proper names in the sentence that a question may repeat (the rest must be paraphrased). */
  entities: string[];
}

export interface ProseQuestion {
  kind: 'single' | 'two-passage';
  question: string;
  /** The ground truth as written in the document. */
  answer: string;
  /** Accepted answers: each is a list of normalised phrases that must all appear (see answerMatches). */
  accept: string[][];
  /** Indices into the document's facts this question needs. */
  facts: number[];
}

export interface ProseDocument {
  length: number;
  index: number;
  sourceId: string;
  text: string;
  facts: PlacedFact[];
  questions: ProseQuestion[];
}

export interface ProseCase {
  length: number;
  document: number;
  /** Index of the case within its length: the pairing key of every row's turn. */
  round: number;
  sourceId: string;
  kind: ProseQuestion['kind'];
  /** Depths of the facts the question needs. */
  depths: number[];
  question: string;
  answer: string;
  accept: string[][];
  messages: ChatMessage[];
}

// ---- seeded randomness ----------------------------------------------------------------------

function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The engine's seeded generator, seeded from a string. */
function seededRandom(seed: string): () => number {
  return seededRandomFromNumber(hashSeed(seed));
}

/** Draws without replacement. */
class Bag<T> {
  private readonly left: T[];
  constructor(items: readonly T[], private readonly rng: () => number) {
    this.left = [...items];
  }
  take(): T {
    if (this.left.length === 0) throw new Error('entity pool exhausted');
    const i = Math.floor(this.rng() * this.left.length);
    return this.left.splice(i, 1)[0] as T;
  }
}

// ---- invented entities ----------------------------------------------------------------------

const FIRST_NAMES = [
  'Elsbeth', 'Tobias', 'Mirela', 'Oskar', 'Ilse', 'Dorian', 'Nadia', 'Casimir', 'Henrike', 'Ludo', 'Maren', 'Ansel',
  'Petra', 'Bram', 'Yvette', 'Cormac', 'Solveig', 'Emrys', 'Talia', 'Fenwick', 'Orla', 'Jerzy', 'Linnea', 'Bartholomew',
];
const SURNAMES = [
  'Wrenfield', 'Corlett', 'Ostrander', 'Pellham', 'Quillon', 'Brackwater', 'Dunmore', 'Halvorsen', 'Ketteridge',
  'Moravec', 'Thistlewood', 'Ashcombe', 'Greyling', 'Oakhurst', 'Penhallow', 'Vantreight', 'Marlowby', 'Ferrandis',
  'Gallowglass', 'Summerhayes', 'Kilbride', 'Ravensworth', 'Tolliver', 'Eskdale',
];
/** Places: the name, and the word of it that identifies it alone. */
const PLACES: Array<[string, string]> = [
  ['Carrow Point', 'carrow'], ['Hollin Brae', 'hollin'], ['Port Tessaly', 'tessaly'], ['Verenholm', 'verenholm'],
  ['Dunhallow', 'dunhallow'], ['Kettleby', 'kettleby'], ['Orrin Falls', 'orrin'], ['Brennock', 'brennock'],
  ['Tallis Ford', 'tallis'], ['Ambervale', 'ambervale'], ['Lowick Sands', 'lowick'], ['Marsk', 'marsk'],
  ['Quenby Cross', 'quenby'], ['Saltcote', 'saltcote'], ['Wendover Reach', 'wendover'], ['Istvanbridge', 'istvanbridge'],
  ['Harrowgate Mill', 'harrowgate'], ['Pellucid Bay', 'pellucid'], ['Norcaster', 'norcaster'], ['Fallowmere', 'fallowmere'],
];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

interface Person {
  name: string;
  surname: string;
}
interface Place {
  name: string;
  key: string;
}

interface Entities {
  person(): Person;
  place(): Place;
  date(): { text: string; accept: string[] };
  amount(): { text: string; accept: string[] };
}

function entities(rng: () => number): Entities {
  const firsts = new Bag(FIRST_NAMES, rng);
  const surnames = new Bag(SURNAMES, rng);
  const places = new Bag(PLACES, rng);
  const years = new Bag(Array.from({ length: 140 }, (_, i) => 1851 + i), rng);
  return {
    person: () => {
      const surname = surnames.take();
      return { name: `${firsts.take()} ${surname}`, surname };
    },
    place: () => {
      const [name, key] = places.take();
      return { name, key };
    },
    date: () => {
      const day = 1 + Math.floor(rng() * 28);
      const month = MONTHS[Math.floor(rng() * 12)] as string;
      const year = years.take();
      return { text: `${day} ${month} ${year}`, accept: [String(day), month.toLowerCase(), String(year)] };
    },
    amount: () => {
      const value = 1200 + Math.floor(rng() * 8700);
      return { text: value.toLocaleString('en-US'), accept: [String(value)] };
    },
  };
}

// ---- fact templates -------------------------------------------------------------------------

/** A fact whose answer is a person, introduced by a role at a place. */
interface RoleTemplate {
  sentence(p: Person, at: Place): string;
  question(at: Place): string;
  /** The role in other words, for a two-passage question ("the person who kept the light at X"). */
  describe(at: Place): string;
}

const ROLES: RoleTemplate[] = [
  {
    sentence: (p, at) => `For eleven winters the lighthouse on ${at.name} was kept by a quiet man called ${p.name}.`,
    question: (at) => `Who looked after the light at ${at.name}?`,
    describe: (at) => `the keeper of the ${at.name} light`,
  },
  {
    sentence: (p, at) => `The harbour master of ${at.name} in those years was a woman named ${p.name}.`,
    question: (at) => `What was the name of the person in charge of the port at ${at.name}?`,
    describe: (at) => `the person in charge of the port at ${at.name}`,
  },
  {
    sentence: (p, at) => `In the end it was ${p.name} who was chosen to lead the survey of the hills above ${at.name}.`,
    question: (at) => `Who headed the expedition that mapped the high ground near ${at.name}?`,
    describe: (at) => `the leader of the ${at.name} hill survey`,
  },
  {
    sentence: (p, at) => `The first schoolteacher in ${at.name} was ${p.name}, who arrived there by cart with a crate of slates.`,
    question: (at) => `Who taught the children of ${at.name} before anyone else did?`,
    describe: (at) => `the earliest teacher of ${at.name}`,
  },
];

type Detail = { kind: FactKind; text: string; question: string; value: string; accept: string[][]; entities: string[] };

/** A fact about a person: the subject of its question can be the name or, two passages away, a role. */
interface PersonDetailTemplate {
  kind: FactKind;
  make(e: Entities): { value: string; accept: string[][]; sentence(p: Person): string; question(subject: string): string };
}

const PERSON_DETAILS: PersonDetailTemplate[] = [
  {
    kind: 'place',
    make: (e) => {
      const where = e.place();
      return {
        value: where.name,
        accept: [[where.name.toLowerCase()], [where.key]],
        sentence: (p) => `${p.name} was born in ${where.name}, in a narrow house beside the chapel.`,
        question: (s) => `What is the birthplace of ${s}?`,
      };
    },
  },
  {
    kind: 'date',
    make: (e) => {
      const when = e.date();
      return {
        value: when.text,
        accept: [when.accept],
        sentence: (p) => `${p.name} left home for good on ${when.text}, taking only a trunk of books.`,
        question: (s) => `On which date did ${s} depart for the last time?`,
      };
    },
  },
  {
    kind: 'amount',
    make: (e) => {
      const sum = e.amount();
      return {
        value: `${sum.text} crowns`,
        accept: [sum.accept],
        sentence: (p) => `${p.name} sold the family orchard for ${sum.text} crowns, a sum the neighbours thought far too low.`,
        question: (s) => `What price did ${s} get for the orchard?`,
      };
    },
  },
  {
    kind: 'place',
    make: (e) => {
      const where = e.place();
      return {
        value: where.name,
        accept: [[where.name.toLowerCase()], [where.key]],
        sentence: (p) => `${p.name} kept the spare charts in a locked warehouse in ${where.name}.`,
        question: (s) => `In which town did ${s} store the extra maps?`,
      };
    },
  },
];

/** A fact about a place alone. */
interface PlaceFactTemplate {
  kind: FactKind;
  make(e: Entities, at: Place): Detail;
}

const PLACE_FACTS: PlaceFactTemplate[] = [
  {
    kind: 'date',
    make: (e, at) => {
      const when = e.date();
      return {
        kind: 'date',
        text: `The stone bridge over the river at ${at.name} was opened to carts and walkers on ${when.text}.`,
        question: `When could people first cross the ${at.name} bridge?`,
        accept: [when.accept],
        entities: [at.name],
        value: when.text,
      };
    },
  },
  {
    kind: 'amount',
    make: (e, at) => {
      const sum = e.amount();
      return {
        kind: 'amount',
        text: `The town council of ${at.name} paid ${sum.text} crowns for the new clock tower.`,
        question: `How much money did ${at.name} spend on its clock?`,
        accept: [sum.accept],
        entities: [at.name],
        value: `${sum.text} crowns`,
      };
    },
  },
  {
    kind: 'amount',
    make: (e, at) => {
      const count = e.amount();
      return {
        kind: 'amount',
        text: `By the last count, ${count.text} sheep grazed on the common land of ${at.name}.`,
        question: `How many sheep were recorded on the shared pasture at ${at.name}?`,
        accept: [count.accept],
        entities: [at.name],
        value: count.text,
      };
    },
  },
];

// ---- answers --------------------------------------------------------------------------------

/** Lower case, accents and punctuation gone, thousands separators and ordinal suffixes dropped. */
export function normalizeAnswer(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/(\d),(?=\d{3}\b)/g, '$1')
    .replace(/(\d+)(st|nd|rd|th)\b/g, '$1')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** True when, for one accepted alternative, each of its phrases stands as whole words in the answer. */
export function answerMatches(answer: string, accept: readonly string[][]): boolean {
  const padded = ` ${normalizeAnswer(answer)} `;
  return accept.some((phrases) => phrases.every((phrase) => padded.includes(` ${normalizeAnswer(phrase)} `)));
}

// ---- documents ------------------------------------------------------------------------------

/** Offsets where a sentence may be inserted: the start, each sentence start, the end. */
function insertionPoints(text: string): number[] {
  const points = new Set<number>([0, text.length]);
  for (const m of text.matchAll(/\n\n/g)) points.add(m.index + 2);
  for (const m of text.matchAll(/[.!?]["”’)]?( )(?=["“‘(]?[A-Z])/g)) points.add(m.index + m[0].length);
  return [...points].sort((a, b) => a - b);
}

/** `chars` characters of a source from a seeded paragraph on (wrapping), cut at a sentence end. */
function excerpt(source: ProseSource, chars: number, rng: () => number): string {
  const paragraphs = source.text.split(/\n\n+/);
  const start = Math.floor(rng() * paragraphs.length);
  const taken: string[] = [];
  let size = 0;
  for (let i = 0; size < chars && i < 4 * paragraphs.length; i++) {
    const p = paragraphs[(start + i) % paragraphs.length] as string;
    taken.push(p);
    size += p.length + 2;
  }
  let text = taken.join('\n\n');
  if (text.length > chars) {
    // end on a sentence boundary at or before the target, when there is one in the last paragraph
    const cut = insertionPoints(text).filter((p) => p <= chars && p > chars - 600).at(-1);
    text = text.slice(0, cut ?? chars).trimEnd();
  }
  return text;
}

export interface DocumentPlan {
  length: number;
  index: number;
  source: ProseSource;
  /** Characters of prose before the facts go in. */
  chars: number;
  /** Depths of this document's facts, each in [0, 1]. */
  depths: number[];
  seed: string;
}

/**
 * One document: prose from the source, a fact sentence at each depth (the nearest sentence
 * boundary, never two at one), a question per fact and, with two or more facts, one two-passage
 * question: the facts at the first and last depth are a role ("the harbour master of X was Y")
 * and a detail about that person; the question asks the detail of the role.
 */
export function buildProseDocument(plan: DocumentPlan): ProseDocument {
  const rng = seededRandom(`${plan.seed}/${plan.length}/${plan.index}`);
  const e = entities(rng);
  const prose = excerpt(plan.source, plan.chars, rng);
  const n = plan.depths.length;
  const order = plan.depths.map((d, i) => ({ d, i })).sort((a, b) => a.d - b.d);

  type Draft = { kind: FactKind; sentence: string; entities: string[]; questions: Array<Omit<ProseQuestion, 'facts'> & { facts: number[] }> };
  const drafts = new Array<Draft>(n);
  const questions: ProseQuestion[] = [];
  // no template twice in one document, so no two facts read alike
  const roles = new Bag(ROLES, rng);
  const details = new Bag(PERSON_DETAILS, rng);
  const placeFacts = new Bag(PLACE_FACTS, rng);

  // the bridge pair: the shallowest and deepest fact; odd documents put the detail first
  if (n >= 2) {
    const [roleAt, detailAt] = plan.index % 2 === 0 ? [order[0]!.i, order[n - 1]!.i] : [order[n - 1]!.i, order[0]!.i];
    const person = e.person();
    const at = e.place();
    const role = roles.take();
    const detailTemplate = details.take();
    const detail = detailTemplate.make(e);
    const kind = detailTemplate.kind;
    drafts[roleAt] = {
      kind: 'person',
      sentence: role.sentence(person, at),
      entities: [person.name, at.name],
      questions: [{ kind: 'single', question: role.question(at), answer: person.name, accept: [[person.name.toLowerCase()], [person.surname.toLowerCase()]], facts: [roleAt] }],
    };
    drafts[detailAt] = {
      kind,
      sentence: detail.sentence(person),
      entities: [person.name, detail.value],
      questions: [{ kind: 'single', question: detail.question(person.name), answer: detail.value, accept: detail.accept, facts: [detailAt] }],
    };
    questions.push({ kind: 'two-passage', question: detail.question(role.describe(at)), answer: detail.value, accept: detail.accept, facts: [roleAt, detailAt] });
  }
  // the other facts stand alone: a role, a detail about someone, or a fact about a place
  for (let i = 0; i < n; i++) {
    if (drafts[i]) continue;
    const choice = i % 3;
    if (choice === 0) {
      const person = e.person();
      const at = e.place();
      const role = roles.take();
      drafts[i] = {
        kind: 'person',
        sentence: role.sentence(person, at),
        entities: [person.name, at.name],
        questions: [{ kind: 'single', question: role.question(at), answer: person.name, accept: [[person.name.toLowerCase()], [person.surname.toLowerCase()]], facts: [i] }],
      };
    } else if (choice === 1) {
      const person = e.person();
      const template = details.take();
      const detail = template.make(e);
      drafts[i] = {
        kind: template.kind,
        sentence: detail.sentence(person),
        entities: [person.name, detail.value],
        questions: [{ kind: 'single', question: detail.question(person.name), answer: detail.value, accept: detail.accept, facts: [i] }],
      };
    } else {
      const at = e.place();
      const template = placeFacts.take();
      const fact = template.make(e, at);
      drafts[i] = {
        kind: template.kind,
        sentence: fact.text,
        entities: fact.entities,
        questions: [{ kind: 'single', question: fact.question, answer: fact.value, accept: fact.accept, facts: [i] }],
      };
    }
  }

  // place the sentences: nearest free boundary to each depth, then insert from the end backwards
  const points = insertionPoints(prose);
  const used = new Set<number>();
  const at = plan.depths.map((depth) => {
    const target = depth * prose.length;
    let best = -1;
    for (const p of points) if (!used.has(p) && (best < 0 || Math.abs(p - target) < Math.abs(best - target))) best = p;
    used.add(best);
    return best;
  });
  let text = prose;
  const byOffset = at.map((offset, i) => ({ offset, i })).sort((a, b) => b.offset - a.offset);
  for (const { offset, i } of byOffset) {
    const sentence = (drafts[i] as Draft).sentence;
    const before = text.slice(0, offset);
    const after = text.slice(offset);
    text = offset >= text.length ? `${before.trimEnd()} ${sentence}` : `${before}${sentence}${/^\n/.test(after) || after === '' ? '' : ' '}${after}`;
  }
  const facts: PlacedFact[] = drafts.map((d, i) => ({
    kind: d.kind,
    depth: plan.depths[i] as number,
    placedDepth: text.indexOf(d.sentence) / Math.max(1, text.length - d.sentence.length),
    sentence: d.sentence,
    entities: d.entities,
  }));
  const singles = drafts.flatMap((d) => d.questions);
  return { length: plan.length, index: plan.index, sourceId: plan.source.id, text, facts, questions: [...singles, ...questions] };
}

/** Up to this many facts share a document; 20 depths make 5 documents of 4 facts (and 5 two-passage questions). */
export const FACTS_PER_DOCUMENT = 4;

/**
 * The depths of a length dealt to documents: depth k goes to document k mod D, so each
 * document's facts are spread over its whole length.
 */
export function documentDepths(depths: readonly number[]): number[][] {
  const documents = Math.max(1, Math.ceil(depths.length / FACTS_PER_DOCUMENT));
  return Array.from({ length: documents }, (_, d) => depths.filter((_, k) => k % documents === d));
}

export function proseMessages(document: ProseDocument, question: string): ChatMessage[] {
  return [
    { role: 'system', content: DEFAULT_SESSION_SETTINGS.systemPrompt },
    { role: 'user', content: composeUserMessage(question, [{ name: `${document.sourceId}.txt`, text: document.text }]) },
  ];
}

export interface ProseLengthPlan {
  length: number;
  documents: ProseDocument[];
  cases: ProseCase[];
}

/**
 * The documents and cases of one length. `charsFor(source, index)` says how many characters of
 * prose a document gets (the runner sizes it on the model's tokenizer); sources rotate by document.
 */
export function proseLength(
  length: number,
  depths: readonly number[],
  sources: readonly ProseSource[],
  charsFor: (source: ProseSource, index: number) => number,
  seed = DEFAULT_PROSE_SEED,
): ProseLengthPlan {
  const documents = documentDepths(depths).map((docDepths, index) => {
    const source = sources[index % sources.length] as ProseSource;
    return buildProseDocument({ length, index, source, chars: charsFor(source, index), depths: docDepths, seed });
  });
  const cases: ProseCase[] = [];
  for (const document of documents) {
    for (const q of document.questions) {
      cases.push({
        length,
        document: document.index,
        round: cases.length,
        sourceId: document.sourceId,
        kind: q.kind,
        depths: q.facts.map((f) => document.facts[f]?.depth ?? 0),
        question: q.question,
        answer: q.answer,
        accept: q.accept,
        messages: proseMessages(document, q.question),
      });
    }
  }
  return { length, documents, cases };
}
