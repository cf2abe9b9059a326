// DOMPurify for the page, loaded on first use (it is not part of the app's first load).
import { useEffect, useState } from "react";

export type Sanitize = (typeof import("./purify"))["sanitize"];

/** The page's sanitizer once it has loaded; null until then (show plain text meanwhile). */
export function useSanitize(): Sanitize | null {
  const [fn, setFn] = useState<{ sanitize: Sanitize } | null>(null);
  useEffect(() => {
    let live = true;
    void import("./purify").then((m) => live && setFn({ sanitize: m.sanitize }));
    return () => {
      live = false;
    };
  }, []);
  return fn?.sanitize ?? null;
}
