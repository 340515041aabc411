// A colour per event kind, the same on every chart. Each colour has a contrast of at least
// 3:1 (WCAG 1.4.11, graphical objects) against both the light and the dark theme's surface,
// so no kind fades into either background. Kinds without their own colour share the palette
// by a hash of their name, so a kind keeps its colour from one page to the next.

export const KIND_PALETTE = [
  '#4f7ef0', // blue
  '#1a9a94', // teal
  '#d9730d', // orange
  '#9b6bd6', // purple
  '#3c9a3c', // green
  '#2095c9', // cyan
  '#b07a4a', // brown
  '#e0526a', // red
  '#d45fb0', // pink
  '#b08a00', // gold
  '#7f9a20', // olive
  '#8a8a8a', // grey
] as const;

const OWN_COLOUR: Readonly<Record<string, number>> = {
  process: 0,
  network: 1,
  file: 2,
  registry: 3,
  logon: 4,
  dns: 5,
  image_load: 6,
  script: 7,
  scheduled_task: 8,
  service: 9,
  antivirus: 10,
  other: 11,
};

function hash(text: string): number {
  let value = 0;
  for (const char of text) value = (value * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return value;
}

export function kindColor(kind: string): string {
  const index = OWN_COLOUR[kind] ?? hash(kind) % KIND_PALETTE.length;
  return KIND_PALETTE[index] ?? KIND_PALETTE[0];
}

function channel(hex: string, offset: number): number {
  const value = parseInt(hex.slice(offset, offset + 2), 16) / 255;
  return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
}

/** WCAG relative luminance of a "#rrggbb" colour. */
export function luminance(hex: string): number {
  return 0.2126 * channel(hex, 1) + 0.7152 * channel(hex, 3) + 0.0722 * channel(hex, 5);
}

/** WCAG contrast ratio of two "#rrggbb" colours, from 1 to 21. */
export function contrast(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return ((light ?? 0) + 0.05) / ((dark ?? 0) + 0.05);
}
