// A stable colour per user for remote cursors and avatars.
const PALETTE = [
  "#e03131", "#c2255c", "#9c36b5", "#6741d9", "#3b5bdb", "#1971c2",
  "#0c8599", "#099268", "#2f9e44", "#66a80f", "#e8590c", "#f08c00",
];

export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export function userColor(id: string): { color: string; light: string } {
  const color = PALETTE[hashString(id) % PALETTE.length];
  return { color, light: `${color}33` };
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] ?? "?") + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}
