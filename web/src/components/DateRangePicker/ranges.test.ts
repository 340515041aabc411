import { describe, expect, it } from 'vitest';

import {
  daysOf,
  fromLocalInput,
  matchingPreset,
  presetRange,
  rangeEnd,
  rangeProblem,
  readTime,
  toLocalInput,
  writeTime,
} from './ranges';

const newest = new Date('2020-10-23T21:58:25.333Z');

describe('presets', () => {
  it('end on the second after the newest event', () => {
    expect(rangeEnd(newest).toISOString()).toBe('2020-10-23T21:58:26.000Z');
    // An event on a whole second still lies before the end, which is exclusive.
    expect(rangeEnd(new Date('2020-10-23T21:58:25Z')).toISOString()).toBe(
      '2020-10-23T21:58:26.000Z',
    );
    expect(rangeEnd(null, new Date('2026-01-01T10:00:00.5Z')).toISOString()).toBe(
      '2026-01-01T10:00:01.000Z',
    );
  });

  it('reach back 24 hours, 7 days or 30 days', () => {
    const end = rangeEnd(newest);
    expect(writeTime(presetRange('24h', end).from)).toBe('2020-10-22T21:58:26Z');
    expect(daysOf(presetRange('7d', end))).toBe(7);
    expect(daysOf(presetRange('30d', end))).toBe(30);
  });

  it('are recognised in a range', () => {
    const end = rangeEnd(newest);
    expect(matchingPreset(presetRange('30d', end), end)).toBe('30d');
    expect(matchingPreset({ from: new Date(end.getTime() - 1000), to: end }, end)).toBeNull();
  });
});

describe('times in the address', () => {
  it('round-trip in UTC, with milliseconds only when there are some', () => {
    expect(writeTime(new Date('2020-10-23T21:58:26Z'))).toBe('2020-10-23T21:58:26Z');
    expect(writeTime(new Date('2020-10-23T21:58:26.250Z'))).toBe('2020-10-23T21:58:26.250Z');
    expect(readTime('2020-10-23T23:58:26+02:00')?.toISOString()).toBe('2020-10-23T21:58:26.000Z');
  });

  it('are refused without a zone, out of range or malformed', () => {
    expect(readTime('2020-10-23T21:58:26')).toBeNull();
    expect(readTime('1601-01-01T00:00:00Z')).toBeNull();
    expect(readTime('2020-13-45T00:00:00Z')).toBeNull();
    expect(readTime('yesterday')).toBeNull();
    expect(readTime(null)).toBeNull();
  });
});

describe('local date-and-time inputs', () => {
  it('round-trip through the viewer’s zone', () => {
    const date = new Date(2024, 1, 29, 8, 5, 9);
    expect(toLocalInput(date)).toBe('2024-02-29T08:05:09');
    expect(fromLocalInput('2024-02-29T08:05:09')?.getTime()).toBe(date.getTime());
    expect(fromLocalInput('2024-02-29T08:05')?.getTime()).toBe(date.getTime() - 9000);
  });

  it('refuse incomplete text and days that do not exist', () => {
    expect(fromLocalInput('')).toBeNull();
    expect(fromLocalInput('2024-02-30T08:00')).toBeNull();
    expect(fromLocalInput('1900-01-01T00:00')).toBeNull();
  });

  it('say why a range cannot be used', () => {
    const a = new Date('2020-01-01T00:00:00Z');
    const b = new Date('2020-01-02T00:00:00Z');
    expect(rangeProblem(a, b)).toBeNull();
    expect(rangeProblem(b, a)).toMatch(/before/);
    expect(rangeProblem(null, a)).toMatch(/both/);
  });
});
