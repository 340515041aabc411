import { describe, expect, it } from 'vitest';

import {
  cvssText,
  findingStatusLabel,
  markRequest,
  threatText,
  vulnSeverityColor,
  vulnSeverityLabel,
} from './vulnLabels';

const NOW = new Date('2026-12-04T12:00:00Z');

describe('markRequest', () => {
  it('reopens without a reason', () => {
    expect(markRequest({ status: 'open', reason: '', expires: '' }, NOW)).toEqual({
      patch: { status: 'open' },
    });
  });

  it('needs a reason to mark', () => {
    const result = markRequest({ status: 'accepted_risk', reason: '   ', expires: '' }, NOW);
    expect('error' in result && result.error).toMatch(/reason/);
  });

  it('trims the reason and ends the expiry day in UTC', () => {
    expect(
      markRequest({ status: 'false_positive', reason: ' vendored ', expires: '2027-01-31' }, NOW),
    ).toEqual({
      patch: {
        status: 'false_positive',
        reason: 'vendored',
        expires_at: '2027-01-31T23:59:59.000Z',
      },
    });
  });

  it('refuses an expiry in the past and one that is no date', () => {
    const past = markRequest({ status: 'accepted_risk', reason: 'x', expires: '2026-12-03' }, NOW);
    const today = markRequest({ status: 'accepted_risk', reason: 'x', expires: '2026-12-04' }, NOW);
    const bad = markRequest({ status: 'accepted_risk', reason: 'x', expires: '31/01/2027' }, NOW);
    expect('error' in past && past.error).toMatch(/past/);
    expect(today).toEqual({
      patch: { status: 'accepted_risk', reason: 'x', expires_at: '2026-12-04T23:59:59.000Z' },
    });
    expect('error' in bad && bad.error).toMatch(/not a date/);
  });

  it('sends no expiry when none is given', () => {
    expect(markRequest({ status: 'accepted_risk', reason: 'r', expires: '' }, NOW)).toEqual({
      patch: { status: 'accepted_risk', reason: 'r', expires_at: null },
    });
  });
});

describe('vulnerability labels', () => {
  it('shows the score with its version, and nothing without a score', () => {
    expect(cvssText(7.5, '3.1')).toBe('7.5 (CVSS 3.1)');
    expect(cvssText(10, '2.0')).toBe('10.0 (CVSS 2.0)');
    expect(cvssText(0, '3.1')).toBe('0.0 (CVSS 3.1)');
    expect(cvssText(null, null)).toBe('');
  });

  it('names severities and statuses, keeping unknown codes', () => {
    expect(vulnSeverityLabel('critical')).toBe('Critical');
    expect(vulnSeverityLabel(null)).toBe('Not scored');
    expect(vulnSeverityColor('high')).toBe('danger');
    expect(vulnSeverityColor(null)).toBe('subtle');
    expect(findingStatusLabel('accepted_risk')).toBe('Accepted risk');
    expect(findingStatusLabel('snoozed')).toBe('snoozed');
  });

  it('tells the KEV threats in a few words', () => {
    expect(
      threatText({
        exploited_in_wild: true,
        known_ransomware_use: true,
        kev_added: '2021-11-03',
        due_date: '2022-05-03',
      }),
    ).toBe('Exploited in the wild, ransomware, due 2022-05-03');
    expect(
      threatText({
        exploited_in_wild: false,
        known_ransomware_use: null,
        kev_added: null,
        due_date: null,
      }),
    ).toBe('');
  });
});
