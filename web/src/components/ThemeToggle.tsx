import { useState } from "react";
import { applyTheme, isDark, loadTheme } from "../lib/theme";
import { MoonIcon, SunIcon } from "./icons";

export function ThemeToggle() {
  const [dark, setDark] = useState(() => isDark(loadTheme()));
  return (
    <button
      className="icon-btn theme-toggle"
      aria-label={dark ? "Switch to light mode" : "Switch to dark mode"}
      title={dark ? "Light mode" : "Dark mode"}
      onClick={() => {
        applyTheme(dark ? "light" : "dark");
        setDark(!dark);
        window.dispatchEvent(new Event("mdreader-theme"));
      }}
    >
      {dark ? <SunIcon /> : <MoonIcon />}
    </button>
  );
}
