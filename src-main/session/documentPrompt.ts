// How a question about a document becomes the user's message. The question goes after the
// document: the model reads the document first and the question last, which is also where
// lazy prefill looks for what matters.
export interface AttachedDocument {
  name: string;
  text: string;
}

export function composeUserMessage(question: string, documents: AttachedDocument[]): string {
  if (documents.length === 0) return question;
  const parts = documents.map((d) => `<document name="${d.name.replace(/"/g, "'")}">\n${d.text.trim()}\n</document>`);
  return `Answer using the document${documents.length > 1 ? 's' : ''} below.\n\n${parts.join('\n\n')}\n\nQuestion: ${question}`;
}

export const DEFAULT_SYSTEM_PROMPT =
  'You are Sift, a careful assistant. Answer from the provided documents when there are any, quote exact values, and say so when the answer is not in them.';
