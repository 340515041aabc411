// Time ranges [from, to): the presets that end at a device's newest event, the form the
// address keeps them in, and the local date-and-time text of the picker's inputs.

export interface TimeRange {
  from: Date;
  to: Date;
}

const SECOND_MS = 1000;
const HOUR_MS = 3600 * SECOND_MS;
const DAY_MS = 24 * HOUR_MS;

export const PRESETS = [
  { id: '24h', label: 'Last 24 hours', span: DAY_MS },
  { id: '7d', label: 'Last 7 days', span: 7 * DAY_MS },
  { id: '30d', label: 'Last 30 days', span: 30 * DAY_MS },
] as const;

export type PresetId = (typeof PRESETS)[number]['id'];

/** The span of a range in milliseconds. */
export function spanOf(range: TimeRange): number {
  return range.to.getTime() - range.from.getTime();
}

export function daysOf(range: TimeRange): number {
  return spanOf(range) / DAY_MS;
}

/**
 * Where presets end: the second after the newest event, so that event is in the range (its
 * end is exclusive) and the address shows whole seconds. Without events: the next second.
 */
export function rangeEnd(newest: Date | null, now: Date = new Date()): Date {
  const at = newest ?? now;
  return new Date(Math.floor(at.getTime() / SECOND_MS) * SECOND_MS + SECOND_MS);
}

export function presetRange(preset: PresetId, end: Date): TimeRange {
  const span = PRESETS.find((p) => p.id === preset)?.span ?? 7 * DAY_MS;
  return { from: new Date(end.getTime() - span), to: end };
}

/** The preset the range is, if it is one. */
export function matchingPreset(range: TimeRange, end: Date): PresetId | null {
  const found = PRESETS.find((preset) => sameRange(range, presetRange(preset.id, end)));
  return found?.id ?? null;
}

export function sameRange(a: TimeRange, b: TimeRange): boolean {
  return a.from.getTime() === b.from.getTime() && a.to.getTime() === b.to.getTime();
}

// Times in the address carry their zone; without one they are refused, not guessed.
const ADDRESS_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(2200, 0, 1);

/** A time from the address: ISO 8601 with a zone, between 1970 and 2200 (as the API takes). */
export function readTime(text: string | null): Date | null {
  if (text === null || !ADDRESS_TIME.test(text)) return null;
  const date = new Date(text);
  const ms = date.getTime();
  return Number.isNaN(ms) || ms < EARLIEST || ms >= LATEST ? null : date;
}

/** "2020-10-23T21:58:26Z": UTC, milliseconds only when there are some. */
export function writeTime(date: Date): string {
  const iso = date.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, 19)}Z` : iso;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** The value of an `<input type="datetime-local">`: the viewer's local time, to the second. */
export function toLocalInput(date: Date): string {
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

const LOCAL_INPUT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** The time a datetime-local input holds, read in the viewer's zone; null when incomplete. */
export function fromLocalInput(text: string): Date | null {
  const match = LOCAL_INPUT.exec(text);
  if (match === null) return null;
  const [year, month, day, hours, minutes, seconds] = match
    .slice(1)
    .map((part) => Number(part ?? 0));
  const date = new Date(year ?? 0, (month ?? 0) - 1, day, hours, minutes, seconds);
  // Date rolls 31 February over into March: such a day does not exist.
  if (date.getMonth() !== (month ?? 0) - 1 || date.getDate() !== day) return null;
  const ms = date.getTime();
  return Number.isNaN(ms) || ms < EARLIEST || ms >= LATEST ? null : date;
}

/** Why a range typed in cannot be used; null when it can. */
export function rangeProblem(from: Date | null, to: Date | null): string | null {
  if (from === null || to === null) return 'Enter both a start and an end.';
  if (from.getTime() >= to.getTime()) return 'The start must be before the end.';
  return null;
}
