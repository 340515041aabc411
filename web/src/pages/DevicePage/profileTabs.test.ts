import { describe, expect, it } from 'vitest';

import { readTab, tabParams, tabsFor } from './profileTabs';

const ids = (knownFrom: Parameters<typeof tabsFor>[0]) => tabsFor(knownFrom).map((t) => t.id);

describe('tabsFor', () => {
  it('shows endpoint tabs for devices known from the endpoint', () => {
    const endpoint = [
      'overview',
      'alerts',
      'timeline',
      'recommendations',
      'software',
      'vulnerabilities',
      'updates',
      'actions',
    ];
    expect(ids('endpoint')).toEqual(endpoint);
    expect(ids('both')).toEqual(endpoint);
  });

  it('hides endpoint tabs for a device known only from the directory', () => {
    expect(ids('directory')).toEqual(['overview', 'alerts']);
    expect(ids(null)).toEqual(['overview', 'alerts']);
  });
});

describe('readTab', () => {
  it('follows the address when the device has the tab', () => {
    expect(readTab(new URLSearchParams('tab=software'), tabsFor('endpoint'))).toBe('software');
    expect(readTab(new URLSearchParams('tab=timeline&from=x'), tabsFor('both'))).toBe('timeline');
  });

  it('falls back to the overview otherwise', () => {
    expect(readTab(new URLSearchParams('tab=software'), tabsFor('directory'))).toBe('overview');
    expect(readTab(new URLSearchParams('tab=timeline'), tabsFor('directory'))).toBe('overview');
    expect(readTab(new URLSearchParams('tab=vulnerabilities'), tabsFor('directory'))).toBe(
      'overview',
    );
    expect(readTab(new URLSearchParams('tab=bogus'), tabsFor('both'))).toBe('overview');
  });

  it('writes only the tab', () => {
    expect(tabParams('software').toString()).toBe('tab=software');
    expect(tabParams('overview').toString()).toBe('');
  });
});
