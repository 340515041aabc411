import { describe, expect, it } from 'vitest';

import type { Coverage } from '../../api/types';
import {
  advisoriesEmptyText,
  coverageLines,
  emptyText,
  recommendationsEmptyText,
} from './coverageText';

const partial: Coverage = {
  assessed: true,
  groups: [
    {
      source: 'dpkg',
      matched_by: 'Debian:12',
      items: 1850,
      checked: false,
      reason:
        'not checked: no advisories for Debian:12 imported (hostwatch feeds import or update)',
    },
    {
      source: 'pip',
      matched_by: 'PyPI',
      items: 1,
      checked: true,
      reason: 'checked against advisories for PyPI',
    },
    {
      source: 'os',
      matched_by: 'MSRC',
      items: 1,
      checked: true,
      reason: 'checked against Microsoft security update documents',
    },
  ],
};

describe('coverageLines', () => {
  it('splits checked from unchecked software with counts and ecosystems', () => {
    expect(coverageLines(partial)).toEqual({
      checked: [
        '1 Python package (PyPI): checked against advisories for PyPI',
        'the operating system (MSRC): checked against Microsoft security update documents',
      ],
      unchecked: [
        '1,850 Debian packages (Debian:12): not checked: no advisories for Debian:12 imported (hostwatch feeds import or update)',
      ],
    });
  });
});

describe('emptyText', () => {
  it('never reads as clean when nothing was checked', () => {
    expect(emptyText({ assessed: false, groups: partial.groups.slice(0, 1) }, false)).toMatch(
      /^Not assessed: no imported feed covers/,
    );
    expect(emptyText({ assessed: false, groups: [] }, false)).toMatch(/no software inventory/);
  });

  it('says what an empty list means when something was checked, and for filters', () => {
    expect(emptyText(partial, false)).toBe(
      'No known vulnerabilities in the software checked: no imported advisory matches it.',
    );
    expect(emptyText(partial, true)).toBe('No vulnerabilities match these filters.');
  });
});

describe('recommendationsEmptyText and advisoriesEmptyText', () => {
  it('say not assessed when the software was not checked', () => {
    const none: Coverage = { assessed: false, groups: partial.groups.slice(0, 1) };
    expect(recommendationsEmptyText(none, false)).toMatch(/^Not assessed/);
    expect(advisoriesEmptyText(partial)).toBe(
      'Not assessed: the distribution’s packages were not checked (not checked: no advisories for Debian:12 imported (hostwatch feeds import or update)).',
    );
  });

  it('say clean only for what was checked', () => {
    const checked: Coverage = {
      assessed: true,
      groups: [
        { source: 'dpkg', matched_by: 'Debian:12', items: 3, checked: true, reason: 'checked' },
      ],
    };
    expect(advisoriesEmptyText(checked)).toBe(
      'No distribution advisory is missing for the installed packages.',
    );
    expect(recommendationsEmptyText(partial, false)).toMatch(/^No security recommendations/);
    expect(recommendationsEmptyText(partial, true)).toBe('No recommendations match this filter.');
  });
});
