// A new chat is named after its first question, so the sidebar is readable without renaming.
const MAX_TITLE_CHARS = 48;

export function titleFromQuestion(question: string): string {
  const oneLine = question.replace(/\s+/g, ' ').trim();
  if (oneLine.length <= MAX_TITLE_CHARS) return oneLine;
  const cut = oneLine.slice(0, MAX_TITLE_CHARS);
  const lastSpace = cut.lastIndexOf(' ');
  return `${(lastSpace > MAX_TITLE_CHARS / 2 ? cut.slice(0, lastSpace) : cut).trimEnd()}…`;
}
