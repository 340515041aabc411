import { describe, expect, it } from 'vitest';

import {
  formatBytes,
  formatCount,
  formatLocalTime,
  formatPercent,
  formatRelativeTime,
  formatUtcTime,
  parseApiTime,
} from './format';

describe('formatBytes', () => {
  it('keeps small sizes in bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
  });

  it('uses one decimal below ten units and whole numbers above', () => {
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(16 * 1024 ** 3)).toBe('16 GiB');
    expect(formatBytes(512.4 * 1024 ** 3)).toBe('512 GiB');
    expect(formatBytes(2 * 1024 ** 4)).toBe('2 TiB');
  });

  it('carries to the next unit when rounding reaches 1024', () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe('1 MiB');
  });

  it('refuses negative and non-finite sizes', () => {
    expect(formatBytes(-1)).toBe('Invalid size');
    expect(formatBytes(Number.NaN)).toBe('Invalid size');
  });
});

describe('parseApiTime', () => {
  it('reads times with Z and with an offset', () => {
    expect(parseApiTime('2026-12-04T14:11:03Z')?.toISOString()).toBe('2026-12-04T14:11:03.000Z');
    expect(parseApiTime('2026-12-04T15:11:03+01:00')?.toISOString()).toBe(
      '2026-12-04T14:11:03.000Z',
    );
  });

  it('takes a time without offset as UTC', () => {
    expect(parseApiTime('2026-12-04T14:11:03.250')?.toISOString()).toBe('2026-12-04T14:11:03.250Z');
  });

  it('returns null for text that is not a time', () => {
    expect(parseApiTime('yesterday')).toBeNull();
    expect(parseApiTime('2026-13-45T99:00:00Z')).toBeNull();
  });
});

describe('time formatting', () => {
  const instant = new Date('2026-12-04T14:11:03Z');

  it('shows local time in the given zone', () => {
    expect(formatLocalTime(instant, 'en-GB', 'Europe/Berlin')).toBe('4 Dec 2026, 15:11:03');
    expect(formatLocalTime(instant, 'en-GB', 'America/New_York')).toBe('4 Dec 2026, 09:11:03');
  });

  it('shows UTC in a fixed format', () => {
    expect(formatUtcTime(instant)).toBe('2026-12-04 14:11:03 UTC');
  });

  it('describes times relative to now', () => {
    const now = new Date('2026-12-04T14:14:03Z');
    expect(formatRelativeTime(instant, now, 'en')).toBe('3 minutes ago');
    expect(formatRelativeTime(now, now, 'en')).toBe('now');
    expect(formatRelativeTime(new Date('2026-12-02T14:00:00Z'), now, 'en')).toBe('2 days ago');
  });
});

describe('numbers', () => {
  it('groups digits and rounds percentages', () => {
    expect(formatCount(12345, 'en')).toBe('12,345');
    expect(formatPercent(3.14159, 'en')).toBe('3.1 %');
  });
});
