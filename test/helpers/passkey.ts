// The passkey retrieval task (llama.cpp's examples/passkey format): a pass key hidden at a given
// depth of repetitive filler, then asked for. Used by tests (short) and benchmarks (long).
const FILLER = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ';

export interface PasskeyPrompt {
  document: string;
  question: string;
  passkey: string;
}

/** About `approxTokens` tokens of filler (~22 tokens a block for llama-style tokenizers). */
export function passkeyDocument(approxTokens: number, depth: number, passkey: string): string {
  const blocks = Math.max(1, Math.round(approxTokens / 22));
  const at = Math.min(blocks, Math.max(0, Math.round(blocks * depth)));
  const needle = `The pass key is ${passkey}. Remember it. ${passkey} is the pass key. `;
  return FILLER.repeat(at) + needle + FILLER.repeat(blocks - at);
}

export function passkeyPrompt(approxTokens: number, depth: number, passkey: string): PasskeyPrompt {
  return {
    document: passkeyDocument(approxTokens, depth, passkey),
    // measured on SmolLM2-135M: this wording finds the key at 2k and 4k tokens at every depth tried,
    // "What is the pass key?" does not
    question: 'What is the pass key number?',
    passkey,
  };
}
