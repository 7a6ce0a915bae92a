// How a question about documents becomes the user's message: each document's text, then the
// question, last. The question at the end is what the model reads last, and where lazy prefill
// looks for what matters. The wrapper stays minimal on purpose: small models (SmolLM2-135M) lose
// a pass key behind heavier framing (<document> tags and instructions) that they find without it.
export interface AttachedDocument {
  name: string;
  text: string;
}

export function composeUserMessage(question: string, documents: AttachedDocument[]): string {
  if (documents.length === 0) return question;
  const parts = documents.map((d) =>
    documents.length > 1 ? `Document "${d.name}":\n\n${d.text.trim()}` : d.text.trim(),
  );
  return `${parts.join('\n\n')}\n\n${question}`;
}
