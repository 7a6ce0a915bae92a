// Every press the grammar knows, in the order help and docs list them.
import type { PressDeclaration } from '../press.js';
import { EVICTOR_PRESSES } from './evictor.js';
import { fullPress } from './full.js';
import { kvTypePress } from './kvType.js';
import { lazyPrefillPress } from './lazyPrefill.js';
import { simLayerKvPress } from './simLayerKv.js';

export const PRESSES: readonly PressDeclaration[] = [fullPress, kvTypePress, lazyPrefillPress, simLayerKvPress, ...EVICTOR_PRESSES];

export function pressNamed(name: string): PressDeclaration | undefined {
  return PRESSES.find((p) => p.name === name);
}
