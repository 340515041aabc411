import { describe, expect, it } from 'vitest';

import type { MissingUpdatesPage } from '../../api/types';
import { advisoryLink, safeLink, updatesSummary } from './missingUpdates';

function page(overrides: Partial<MissingUpdatesPage>): MissingUpdatesPage {
  return {
    status: 'assessed',
    reason: '',
    product: 'Windows 10 Version 22H2 for x64-based Systems',
    build: '10.0.19045.3693',
    updates_missing: 0,
    cves_addressed: 0,
    exploited_cves: 0,
    installed: {},
    items: [],
    total: 0,
    advisories: [],
    ...overrides,
  };
}

describe('updatesSummary', () => {
  it('counts updates, CVEs and exploited CVEs', () => {
    expect(
      updatesSummary(page({ updates_missing: 4, cves_addressed: 1203, exploited_cves: 3 })),
    ).toBe('4 updates missing, addressing 1,203 CVEs, 3 of them exploited');
    expect(updatesSummary(page({ updates_missing: 1, cves_addressed: 1 }))).toBe(
      '1 update missing, addressing 1 CVE',
    );
    expect(updatesSummary(page({}))).toBe('No security update missing');
  });

  it('counts distinct CVEs across Linux advisories', () => {
    const advisory = {
      id: 'x',
      advisory: 'DSA-5376-1',
      package: 'apache2',
      binary_packages: ['apache2-bin'],
      installed_version: '1',
      fixed_version: '2',
      cve_count: 2,
      cves: ['CVE-1', 'CVE-2'],
    };
    const linux = page({
      status: 'not_windows',
      advisories: [advisory, { ...advisory, id: 'y', advisory: 'DSA-5000-1', cves: ['CVE-2'] }],
    });
    expect(updatesSummary(linux)).toBe('2 advisories not applied, addressing 2 CVEs');
    expect(updatesSummary(page({ status: 'not_windows' }))).toBe(
      'No distribution advisory missing',
    );
  });
});

describe('links', () => {
  it('links only advisory ids it knows, escaped', () => {
    expect(advisoryLink('DSA-5376-1')).toBe(
      'https://security-tracker.debian.org/tracker/DSA-5376-1',
    );
    expect(advisoryLink('USN-6543-1')).toBe('https://ubuntu.com/security/notices/USN-6543-1');
    expect(advisoryLink('DSA-1/../x')).toBeNull();
    expect(advisoryLink('javascript:alert(1)')).toBeNull();
  });

  it('keeps only https update links', () => {
    expect(safeLink('https://catalog.update.microsoft.com/x?q=KB1')).toBe(
      'https://catalog.update.microsoft.com/x?q=KB1',
    );
    expect(safeLink('javascript:alert(1)')).toBeNull();
    expect(safeLink('http://example.org')).toBeNull();
    expect(safeLink('not a url')).toBeNull();
    expect(safeLink(null)).toBeNull();
  });
});
