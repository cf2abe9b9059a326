import { useEffect, useState } from "react";

export type ThemeChoice = "light" | "dark" | "system";

const KEY = "mdreader.theme";

export function loadTheme(): ThemeChoice {
  const v = localStorage.getItem(KEY);
  return v === "light" || v === "dark" ? v : "system";
}

export function isDark(choice: ThemeChoice): boolean {
  if (choice === "system") return window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
  return choice === "dark";
}

export function applyTheme(choice: ThemeChoice): void {
  localStorage.setItem(KEY, choice);
  document.documentElement.dataset.theme = isDark(choice) ? "dark" : "light";
}

/** Whether the page is dark now, following the toggle and the system setting. */
export function useDark(): boolean {
  const [dark, setDark] = useState(() => isDark(loadTheme()));
  useEffect(() => {
    const update = () => setDark(isDark(loadTheme()));
    const media = window.matchMedia?.("(prefers-color-scheme: dark)");
    window.addEventListener("mdreader-theme", update);
    media?.addEventListener?.("change", update);
    return () => {
      window.removeEventListener("mdreader-theme", update);
      media?.removeEventListener?.("change", update);
    };
  }, []);
  return dark;
}
