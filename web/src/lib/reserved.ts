// The names a sanitized element's id or name must not take in this page (see sanitize.ts):
// every property of its document and of a form, read once in the page for the worker.
export function reservedNames(doc: Document): string[] {
  const out = new Set<string>();
  const chains: object[] = [doc, doc.createElement("form")];
  for (const start of chains) {
    for (let o: object | null = start; o; o = Object.getPrototypeOf(o)) {
      for (const name of Object.getOwnPropertyNames(o)) out.add(name);
    }
  }
  return [...out];
}
