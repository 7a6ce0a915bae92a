// What a saved KV cache is keyed by for the model: a sha256 of the file's size, its first MiB
// (the GGUF header: architecture, shapes, tokenizer, quantization) and its last MiB (tensor
// data). A full hash streams gigabytes at every load; this one reads 2 MiB, and llama.cpp still
// refuses a state whose layer count or widths differ when it is loaded.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const SAMPLE_BYTES = 1024 * 1024;

export async function modelFingerprint(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const hash = createHash('sha256').update(`gguf:${size}:`);
    const head = Buffer.alloc(Math.min(SAMPLE_BYTES, size));
    await handle.read(head, 0, head.length, 0);
    hash.update(head);
    const tailStart = Math.max(head.length, size - SAMPLE_BYTES);
    const tail = Buffer.alloc(size - tailStart);
    await handle.read(tail, 0, tail.length, tailStart);
    hash.update(tail);
    return hash.digest('hex').slice(0, 32);
  } finally {
    await handle.close();
  }
}
