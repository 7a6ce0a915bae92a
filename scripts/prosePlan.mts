// The real-prose QA suite's documents and questions at one length, for the diagnostic scripts:
// sized on the engine as the bench sizes them, or read from the sizes a bench run stored
// (~/.cache/sift/bench-cache/<key>.json) so a script need not count them again.
import { readFileSync } from 'node:fs';
import type { EngineClient } from '../src-main/engine/engineClient.js';
import { tokenize } from '../test/bench/fidelity.js';
import { loadProseCorpus, type ProseLengthPlan } from '../src-main/models/proseCases.js';
import { buildProseSuite } from '../test/bench/proseSuite.js';
import { promptTokenCounter, sizeLength, type ProseContext } from '../test/bench/proseRun.js';

export async function prosePlan(client: EngineClient, length: number, sizesFile: string | undefined, depths?: number) {
  // the bench's --depths: the facts' placements, and so the documents, depend on it
  const suite = buildProseSuite('full', { lengths: [length], depths: depths ?? null });
  const sources = loadProseCorpus();
  const charsPerToken: Record<string, number> = {};
  for (const s of sources) charsPerToken[s.id] = 2500 / (await tokenize(client, s.text.slice(0, 2500))).length;
  const stored = sizesFile ? (JSON.parse(readFileSync(sizesFile, 'utf8')) as unknown) : null;
  const ctx = { suite, cache: { readJson: () => stored, writeJson: () => {} } } as unknown as ProseContext;
  const countTokens = promptTokenCounter(client);
  const { plan } = (await sizeLength(ctx, length, sources, charsPerToken, countTokens, sizesFile ? 'stored' : null)) as { plan: ProseLengthPlan };
  return { suite, plan };
}
