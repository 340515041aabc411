// Pure formatting helpers for values shown on the pages. No React here, so they are unit tested.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/** 1536 -> "1.5 KiB"; binary units, one decimal below 10, whole numbers above. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) {
    return 'Invalid size';
  }
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) {
    return `${bytes} B`;
  }
  // Round first, so 1023.96 KiB reads "1 MiB" rather than "1024 KiB".
  let rounded = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  if (rounded >= 1024 && unit < BYTE_UNITS.length - 1) {
    rounded = 1;
    unit += 1;
  }
  return `${rounded} ${BYTE_UNITS[unit]}`;
}

// A time without an offset ("2026-12-04T14:11:03") is taken as UTC, as the API promises UTC;
// Date would otherwise read it as local time.
const HAS_OFFSET = /(Z|[+-]\d\d:?\d\d)$/i;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Parse an API time string; null when it is not a valid ISO-8601 time. */
export function parseApiTime(value: string): Date | null {
  const text = value.trim();
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) {
    return null;
  }
  const normalized = DATE_ONLY.test(text) || HAS_OFFSET.test(text) ? text : `${text}Z`;
  const date = new Date(normalized);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** The time in the viewer's own time zone (or the one given), such as "4 Dec 2026, 15:11:03". */
export function formatLocalTime(date: Date, locale?: string, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium',
    timeStyle: 'medium',
    ...(timeZone === undefined ? {} : { timeZone }),
  }).format(date);
}

/** The same instant in UTC, fixed format: "2026-12-04 14:11:03 UTC". */
export function formatUtcTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "3 minutes ago" / "in 2 days", relative to now. */
export function formatRelativeTime(date: Date, now: Date = new Date(), locale?: string): string {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [
    ['year', 365 * 24 * 3600],
    ['month', 30 * 24 * 3600],
    ['day', 24 * 3600],
    ['hour', 3600],
    ['minute', 60],
  ];
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  for (const [unit, size] of steps) {
    if (Math.abs(seconds) >= size) {
      return format.format(Math.trunc(seconds / size), unit);
    }
  }
  return format.format(0, 'second');
}

/** Counts with the viewer's digit grouping: 12345 -> "12,345". */
export function formatCount(value: number, locale?: string): string {
  return new Intl.NumberFormat(locale).format(value);
}

/** CPU share: 3.14159 -> "3.1 %". */
export function formatPercent(value: number, locale?: string): string {
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(value)} %`;
}
