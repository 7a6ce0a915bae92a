// A policy as the settings panel edits it: which presses are on and the knobs typed for each,
// built from the declarations and checked by the grammar as the person types. Pure: the
// renderer imports it.
import type { PressDeclaration } from './press.js';
import { PRESSES } from './presses/index.js';
import { formatPolicyParts, parsePolicy, parsePolicyParts, PolicySpecError } from './spec.js';

/** Press name → its knobs as typed (an empty string: left to the default). */
export type PolicyDraft = Map<string, Record<string, string>>;

/** The draft a stored spec opens as; empty when it does not parse. */
export function draftFromSpec(spec: string): PolicyDraft {
  try {
    return new Map(parsePolicyParts(spec).filter((p) => p.name !== 'full').map((p) => [p.name, { ...p.params }]));
  } catch {
    return new Map();
  }
}

/** Turns a press on or off; a press takes the place of another of its kind (one evictor, say). */
export function togglePress(draft: PolicyDraft, press: PressDeclaration, on: boolean): PolicyDraft {
  const next = new Map(draft);
  if (!on) {
    next.delete(press.name);
    return next;
  }
  for (const name of next.keys()) if (PRESSES.find((p) => p.name === name)?.role === press.role) next.delete(name);
  next.set(press.name, {});
  return next;
}

export function setKnob(draft: PolicyDraft, press: string, key: string, value: string): PolicyDraft {
  const next = new Map(draft);
  next.set(press, { ...(next.get(press) ?? {}), [key]: value });
  return next;
}

/** The spec the draft makes, in the registry's order, or why the grammar refuses it. */
export function specFromDraft(draft: PolicyDraft): { spec: string; error: string | null } {
  const parts = PRESSES.filter((p) => draft.has(p.name)).map((p) => ({
    name: p.name,
    params: Object.fromEntries(Object.entries(draft.get(p.name)!).filter(([, v]) => v.trim() !== '').map(([k, v]) => [k, v.trim()])),
  }));
  const spec = parts.length ? formatPolicyParts(parts) : 'full';
  try {
    return { spec: parsePolicy(spec).spec, error: null };
  } catch (err) {
    if (err instanceof PolicySpecError) return { spec, error: err.message };
    throw err;
  }
}
