// Markdown highlighting for a very long text in the editor. The full Markdown parser
// (@lezer/markdown) reparses every top-level block of the text on each keystroke when it reuses
// its last tree, which in a megabyte is tens of milliseconds a key; this line-by-line tokenizer
// (a CodeMirror stream language) resumes from a saved state just before the change and stops at
// the end of the viewport, so a keystroke costs the same in any text. It highlights headings,
// quotes, list markers, rules, fences, code, emphasis, links and addresses; the nesting the
// full parser knows (list continuation on Enter) is for shorter texts.
import { StreamLanguage } from "@codemirror/language";
import type { StringStream } from "@codemirror/language";
import { tags } from "@lezer/highlight";

interface State {
  /** the fence a code block opened with, while in one */
  fence: string | null;
}

const FENCE = /^\s{0,3}(`{3,}|~{3,})/;

function token(stream: StringStream, state: State): string | null {
  if (stream.sol()) {
    if (state.fence) {
      const close = stream.match(FENCE, false) as RegExpMatchArray | null;
      if (close && close[1][0] === state.fence[0] && close[1].length >= state.fence.length && /^\s*$/.test(stream.string.slice(close[0].length))) {
        state.fence = null;
        stream.skipToEnd();
        return "meta";
      }
      stream.skipToEnd();
      return "monospace";
    }
    const open = stream.match(FENCE) as RegExpMatchArray | null;
    if (open) {
      state.fence = open[1];
      stream.skipToEnd();
      return "meta";
    }
    const heading = stream.match(/^\s{0,3}(#{1,6})(\s|$)/) as RegExpMatchArray | null;
    if (heading) {
      stream.skipToEnd();
      return `heading${heading[1].length}`;
    }
    if (stream.match(/^\s{0,3}([-*_])(\s*\1){2,}\s*$/)) return "contentSeparator";
    if (stream.match(/^\s{0,3}>/)) {
      stream.skipToEnd();
      return "quote";
    }
    if (stream.match(/^\s*([-*+]|\d{1,9}[.)])(\s+\[[ xX]\])?(?=\s)/)) return "list";
  }
  if (stream.match(/^(`+)[^`]+?\1(?!`)/)) return "monospace";
  if (stream.match(/^(\*\*|__)(?=\S)(.*?\S)\1/)) return "strong";
  if (stream.match(/^(\*|_)(?=\S)(.*?\S)\1/)) return "emphasis";
  if (stream.match(/^~~(?=\S)(.*?\S)~~/)) return "strikethrough";
  if (stream.match(/^!?\[[^\]\n]*\]\([^)\s]*(\s+"[^"]*")?\)/) || stream.match(/^!?\[[^\]\n]*\]\[[^\]\n]*\]/)) return "link";
  if (stream.match(/^<?https?:\/\/[^\s>]+>?/)) return "url";
  stream.next();
  stream.eatWhile(/[^`*_~[!<h]/);
  return null;
}

export const largeMarkdown = StreamLanguage.define<State>({
  name: "markdown",
  startState: () => ({ fence: null }),
  copyState: (s) => ({ ...s }),
  token,
  tokenTable: {
    heading1: tags.heading1,
    heading2: tags.heading2,
    heading3: tags.heading3,
    heading4: tags.heading4,
    heading5: tags.heading5,
    heading6: tags.heading6,
    quote: tags.quote,
    list: tags.list,
    contentSeparator: tags.contentSeparator,
    meta: tags.processingInstruction,
    monospace: tags.monospace,
    strong: tags.strong,
    emphasis: tags.emphasis,
    strikethrough: tags.strikethrough,
    link: tags.link,
    url: tags.url,
  },
});
