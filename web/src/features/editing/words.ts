// Words and reading time of a Markdown text: counted on the page for a short text, in the
// preview worker for a long one (lib/preview.ts).

export interface WordStats {
  words: number;
  minutes: number;
}

/** Words and minutes of reading (about 230 words a minute), of the Markdown's text. */
export function wordCount(markdown: string): WordStats {
  const text = markdown
    .replace(/```[\s\S]*?```/g, " ")
    .replace(/!\[[^\]]*\]\([^)]*\)/g, " ")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[#>*_`~|[\]()-]/g, " ");
  return statsOf((text.match(/[\p{L}\p{N}][\p{L}\p{N}'’]*/gu) ?? []).length);
}

/** The reading time of `words` words. */
export function statsOf(words: number): WordStats {
  return { words, minutes: words ? Math.max(1, Math.round(words / 230)) : 0 };
}
