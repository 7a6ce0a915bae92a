// A sequence's state moved from a unified-cache context into a trimmed-layer context
// (kvStateLayout.ts), on the real model and the patched build. The invariants: the converted file
// is what the trimmed-layer context itself saves after loading it (byte for byte, so it is exactly
// llama_kv_cache_iswa's format); with a window that covers the sequence the next logits equal the
// full context's bit for bit, with flash attention off (transposed V) and on; with a small window
// the trimmed layers hold only the sinks and the window while the others hold every cell, and decoding
// goes on; a file that is not a sequence state is refused and nothing is written.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertStateBuffer, convertStateToTrimmedLayout, KvStateFormatError, type TrimmedLayout } from '../../src-engine/kvStateLayout.js';
import { loadLlama } from '../../src-engine/loadLlama.js';
import { hasKvBudgets, readKvLayerStats, setNextContextLayout } from '../../src-engine/siftNative.js';
import { passkeyDocument } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';
import { differingLogits } from '../helpers/logits.js';

const LAYERS = 30;
const PROMPT_TOKENS = 300;
const TRIMMED = [3, 4, 10];
const covering: TrimmedLayout = { trimmedLayers: TRIMMED, sink: 4, window: 512 };
const small: TrimmedLayout = { trimmedLayers: TRIMMED, sink: 4, window: 64 };

const withLogits = { generateNext: { logits: true } } as const;

/** The logits after each of `tokens`, evaluated one after the other, as dense rows. */
async function logitsAfter(sequence: LlamaContextSequence, tokens: Token[]): Promise<Float32Array[]> {
  const outputs = await sequence.controlledEvaluate(tokens.map((t) => [t, withLogits] as [Token, typeof withLogits]));
  return tokens.map((_, i) => {
    const map = outputs[i]?.next?.logits;
    if (!map) throw new Error(`no logits at ${i}`);
    const row = new Float32Array(map.size).fill(Number.NaN);
    for (const [token, value] of map) row[token] = value;
    return row;
  });
}

function argmax(row: Float32Array): Token {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best as Token;
}

describe('moving a sequence state into a trimmed-layer layout', () => {
  let llama: Llama;
  let model: LlamaModel;
  let dir: string;
  let prompt: Token[];
  let follow: Token[];
  // the flash-attention-off full context and its saved state, shared by the tests
  let full: LlamaContextSequence;
  let fullState: string;
  const opened: LlamaContext[] = [];

  async function createContext(flashAttention: boolean, layout?: TrimmedLayout, batchSize = 512): Promise<LlamaContext> {
    if (layout) setNextContextLayout(llama, layout.trimmedLayers, layout.sink, layout.window);
    try {
      const context = await model.createContext({ contextSize: 1024, batchSize, threads: 2, flashAttention });
      opened.push(context);
      return context;
    } finally {
      if (layout) setNextContextLayout(llama, [], 0, 0);
    }
  }

  async function prefillAndSave(flashAttention: boolean, file: string): Promise<LlamaContextSequence> {
    const sequence = (await createContext(flashAttention)).getSequence();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt);
    await sequence.saveStateToFile(file);
    return sequence;
  }

  /** A trimmed-layer context with the converted state loaded; checks it re-saves to the same bytes. */
  async function loadConverted(flashAttention: boolean, layout: TrimmedLayout, file: string): Promise<LlamaContextSequence> {
    const sequence = (await createContext(flashAttention, layout)).getSequence();
    await sequence.loadStateFromFile(file, { acceptRisk: true });
    expect(sequence.contextTokens).toEqual(prompt);
    const resaved = `${file}.resaved`;
    await sequence.saveStateToFile(resaved);
    expect((await readFile(resaved)).equals(await readFile(file))).toBe(true);
    return sequence;
  }

  beforeAll(async () => {
    const loaded = await loadLlama('patched');
    llama = loaded.llama;
    expect(loaded.build.kind).toBe('patched');
    expect(hasKvBudgets(llama)).toBe(true);
    model = await llama.loadModel({ modelPath: testModelPath() });
    const tokens = model.tokenize(passkeyDocument(PROMPT_TOKENS + 40, 0.5, '42917'));
    expect(tokens.length).toBeGreaterThan(PROMPT_TOKENS + 4);
    prompt = tokens.slice(0, PROMPT_TOKENS);
    follow = tokens.slice(PROMPT_TOKENS, PROMPT_TOKENS + 4);
    dir = await mkdtemp(path.join(os.tmpdir(), 'sift-kv-layout-'));
    fullState = path.join(dir, 'full.state');
    full = await prefillAndSave(false, fullState);
  });

  afterAll(async () => {
    for (const context of opened) await context.dispose();
    await model?.dispose();
    await llama?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a window that covers the sequence: every cell moves, the logits are bitwise those of the full context', async () => {
    const converted = path.join(dir, 'covering.state');
    const stats = await convertStateToTrimmedLayout(fullState, converted, covering, { expectedLayers: LAYERS });
    expect(stats).toMatchObject({ tokens: PROMPT_TOKENS, cells: PROMPT_TOKENS, trimmedCells: PROMPT_TOKENS, layers: LAYERS, vTrans: true });

    const trimmedSequence = await loadConverted(false, covering, converted);
    const reading = readKvLayerStats(llama, trimmedSequence.context)!;
    expect(reading.perLayer.filter((l) => l.trimmed).map((l) => l.layer)).toEqual(TRIMMED);
    expect(reading.perLayer.every((l) => l.cells === PROMPT_TOKENS)).toBe(true);

    const expected = await logitsAfter(full, follow);
    const actual = await logitsAfter(trimmedSequence, follow);
    expect(actual.every((row) => row.every(Number.isFinite))).toBe(true);
    expect(differingLogits(actual, expected)).toBe(0);
  });

  it('flash attention on (V not transposed): the same, bitwise', async () => {
    const saved = path.join(dir, 'full-fa.state');
    const fullFa = await prefillAndSave(true, saved);
    const converted = path.join(dir, 'covering-fa.state');
    const stats = await convertStateToTrimmedLayout(saved, converted, covering, { expectedLayers: LAYERS });
    expect(stats).toMatchObject({ cells: PROMPT_TOKENS, trimmedCells: PROMPT_TOKENS, vTrans: false });

    const trimmedSequence = await loadConverted(true, covering, converted);
    const expected = await logitsAfter(fullFa, follow);
    const actual = await logitsAfter(trimmedSequence, follow);
    expect(differingLogits(actual, expected)).toBe(0);
  });

  it('a small window: trimmed layers keep the sinks and the window, full layers every cell, and decoding goes on', async () => {
    const converted = path.join(dir, 'small.state');
    const stats = await convertStateToTrimmedLayout(fullState, converted, small, { expectedLayers: LAYERS });
    // positions 0..3 and the last 64 (llama_kv_cache::state_write keeps pos_max - pos < n_swa)
    expect(stats).toMatchObject({ cells: PROMPT_TOKENS, trimmedCells: small.sink + small.window });
    expect(stats.bytes).toBeLessThan((await readFile(fullState)).length);

    const trimmedSequence = await loadConverted(false, small, converted);
    const loaded = readKvLayerStats(llama, trimmedSequence.context)!;
    for (const layer of loaded.perLayer) {
      expect(layer.cells).toBe(TRIMMED.includes(layer.layer) ? small.sink + small.window : PROMPT_TOKENS);
      if (layer.trimmed) expect(layer).toMatchObject({ sink: small.sink, window: small.window });
    }

    // greedy decoding of a few tokens
    const sequence = trimmedSequence;
    let [row] = await logitsAfter(sequence, follow.slice(0, 1));
    const steps = 6;
    for (let i = 0; i < steps; i++) {
      expect(row!.every(Number.isFinite)).toBe(true);
      [row] = await logitsAfter(sequence, [argmax(row!)]);
    }
    const after = readKvLayerStats(llama, trimmedSequence.context)!;
    for (const layer of after.perLayer) {
      // new tokens take free cells of the ring (the masked ones are overwritten only once it is full)
      expect(layer.cells).toBe((TRIMMED.includes(layer.layer) ? small.sink + small.window : PROMPT_TOKENS) + steps + 1);
    }
  });

  it('refuses what it cannot convert exactly, and writes nothing', async () => {
    const bytes = await readFile(fullState);
    const refuse = (input: Uint8Array, layout: TrimmedLayout = small, expectedLayers = LAYERS) =>
      expect(convertStateBuffer(input, layout, { expectedLayers })).rejects.toThrow(KvStateFormatError);

    await refuse(bytes.subarray(0, bytes.length - 100));
    await refuse(bytes.subarray(0, 40));
    await refuse(Buffer.concat([bytes, Buffer.alloc(8)]));
    const badMagic = Buffer.from(bytes);
    badMagic.writeUInt32LE(0xdeadbeef, 0);
    await expect(convertStateBuffer(badMagic, small)).rejects.toThrow(/magic/);
    const badVersion = Buffer.from(bytes);
    badVersion.writeUInt32LE(2, 4);
    await expect(convertStateBuffer(badVersion, small)).rejects.toThrow(/version 2/);
    await expect(convertStateBuffer(bytes, small, { expectedLayers: 31 })).rejects.toThrow(/30 layers, the model has 31/);
    // a cell ext the model does not have shifts every field after it
    await expect(convertStateBuffer(bytes, small, { cellExt: true })).rejects.toThrow(KvStateFormatError);
    await refuse(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff)));
    await refuse(bytes, { ...small, trimmedLayers: [3, LAYERS] });
    await refuse(bytes, { ...small, trimmedLayers: [] });
    await refuse(bytes, { ...small, window: 0 });

    const garbage = path.join(dir, 'garbage.state');
    const out = path.join(dir, 'garbage.converted');
    await writeFile(garbage, bytes.subarray(0, bytes.length - 1));
    await expect(convertStateToTrimmedLayout(garbage, out, small, { expectedLayers: LAYERS })).rejects.toThrow(/sequence state: /);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.${process.pid}.tmp`)).toBe(false);
  });

  it('a trimmed layer whose ring wraps keeps its sinks', async () => {
    // ubatch 64: the ring is 4 + 64 + 64 cells, padded to 256, and wraps during the 300-token
    // prefill; with ubatch 512 it has 768 cells and never wraps. When a new token takes a cell that
    // left the window, llama.cpp purges every older position of the sequence; Sift's KV-cache hook starts
    // that purge after the sinks, so the ring stays full (without it, 4 cells short)
    const wrapping = (await createContext(false, small, 64)).getSequence();
    const roomy = (await createContext(false, small, 512)).getSequence();
    for (const sequence of [wrapping, roomy]) {
      for (let i = 0; i < prompt.length; i += 64) await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(i, i + 64));
    }
    const trimmedLayers = (sequence: LlamaContextSequence) => readKvLayerStats(llama, sequence.context)!.perLayer.filter((l) => l.trimmed);
    const ring = trimmedLayers(wrapping);
    expect(ring.every((l) => l.cells === 256 && l.bytes === ring[0]!.bytes)).toBe(true);
    expect(trimmedLayers(roomy).every((l) => l.cells === PROMPT_TOKENS)).toBe(true);
    // same window, same sinks: the same next tokens. The logits themselves are not compared: they
    // matched bit for bit in most configurations tried, but in one (this prompt, sink 4, window 64)
    // they differed by up to 0.6. The likeliest cause is the cells' order, hence the order of float
    // sums: with flash attention on, llama.cpp's own ring (no sinks) differs as much from a ring that
    // never wraps. Not proven; the same next tokens and a full ring are what this test holds to
    const expected = await logitsAfter(roomy, follow);
    const actual = await logitsAfter(wrapping, follow);
    expect(actual.map(argmax)).toEqual(expected.map(argmax));
    // still full after the forced tokens took more of the ring's cells
    expect(trimmedLayers(wrapping).every((l) => l.cells === 256)).toBe(true);
  });
});
