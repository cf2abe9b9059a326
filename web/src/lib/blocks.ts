// The preview worker's replies name only what changed: the blocks between an unchanged start
// and an unchanged end of the previous reply's list (those after the change moved by the same
// number of lines). Free of the DOM: used by the worker and the page.

export interface BlockRef {
  key: string;
  line: number;
}

export interface BlockDiff {
  /** the previous list's first `head` blocks are kept */
  head: number;
  /** and its last `tail`, each `shift` lines further down */
  tail: number;
  shift: number;
}

/** How `next` differs from `prev`: the longest unchanged start, then the longest end that moved
 * by one number of lines. */
export function diffBlocks(prev: BlockRef[], next: BlockRef[]): BlockDiff {
  const n = prev.length;
  const m = next.length;
  let head = 0;
  while (head < n && head < m && prev[head].key === next[head].key && prev[head].line === next[head].line) head++;
  const shift = n > head && m > head ? next[m - 1].line - prev[n - 1].line : 0;
  let tail = 0;
  while (
    tail < n - head &&
    tail < m - head &&
    prev[n - 1 - tail].key === next[m - 1 - tail].key &&
    next[m - 1 - tail].line - prev[n - 1 - tail].line === shift
  ) {
    tail++;
  }
  return { head, tail, shift };
}

/** The list `diffBlocks` described: the kept start, the new middle, the moved end. */
export function joinBlocks(prev: BlockRef[], diff: BlockDiff, middle: BlockRef[]): BlockRef[] {
  const after = prev.slice(prev.length - diff.tail);
  return prev
    .slice(0, diff.head)
    .concat(
      middle.map((b) => ({ key: b.key, line: b.line })),
      diff.shift ? after.map((b) => ({ key: b.key, line: b.line + diff.shift })) : after,
    );
}
