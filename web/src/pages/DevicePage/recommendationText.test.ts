import { describe, expect, it } from 'vitest';

import {
  driverText,
  exceptionPatch,
  exposureSummary,
  reductionText,
  threatText,
} from './recommendationText';

describe('exposure words', () => {
  it('names each driver with why it weighs', () => {
    expect(
      driverText({
        vulnerability: 'CVE-2020-11651',
        software: 'salt',
        version: '3000.1',
        cvss: 9.8,
        exploited: true,
        ransomware: false,
        weight: 0.9604,
      }),
    ).toBe('CVE-2020-11651 in salt 3000.1 (CVSS 9.8, exploited)');
    expect(
      driverText({
        vulnerability: 'CVE-2099-7',
        software: 'plain-pkg',
        version: '',
        cvss: null,
        exploited: false,
        ransomware: false,
        weight: 0.15,
      }),
    ).toBe('CVE-2099-7 in plain-pkg (CVSS unknown)');
  });

  it('says what the score counts and what it leaves out', () => {
    const info = {
      score: 97,
      level: 'high' as const,
      counted: 2,
      exploited: 1,
      unknown: 1,
      excepted: 0,
      drivers: [],
      active_recommendations: 2,
    };
    expect(exposureSummary(info)).toBe(
      '97 of 100, from 2 findings (1 exploited); 1 of unknown version not counted',
    );
    expect(exposureSummary({ ...info, counted: 1, exploited: 0, unknown: 0, excepted: 3 })).toBe(
      '97 of 100, from 1 finding; 3 under an exception not counted',
    );
  });

  it('writes reductions and threats', () => {
    expect(reductionText(20)).toBe('-20 points');
    expect(reductionText(1)).toBe('-1 point');
    expect(reductionText(0)).toBe('None');
    expect(threatText(['exploited', 'ransomware'])).toBe('Exploited, known ransomware use');
    expect(threatText([])).toBe('');
  });
});

describe('exceptionPatch', () => {
  const now = new Date('2026-12-04T12:00:00Z');

  it('needs a justification', () => {
    expect(exceptionPatch('   ', '', now)).toEqual({
      error: 'Give a justification for the exception.',
    });
  });

  it('takes no expiry, or one at the end of a future day in UTC', () => {
    expect(exceptionPatch(' lab host ', '', now)).toEqual({
      patch: { status: 'exception', justification: 'lab host' },
    });
    expect(exceptionPatch('lab host', '2026-12-31', now)).toEqual({
      patch: {
        status: 'exception',
        justification: 'lab host',
        expires_at: '2026-12-31T23:59:59.000Z',
      },
    });
  });

  it('refuses a past or malformed expiry', () => {
    expect(exceptionPatch('x', '2026-12-03', now)).toEqual({
      error: 'The expiry must be in the future.',
    });
    expect(exceptionPatch('x', '31.12.2026', now)).toEqual({ error: 'The expiry is not a date.' });
  });
});
