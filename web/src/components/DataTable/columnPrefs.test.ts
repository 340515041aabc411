import { describe, expect, it } from 'vitest';

import type { Preferences } from '../../api/types';
import { visibleColumnIds, withColumnChoice } from './columnPrefs';

const columns = [
  { id: 'name', alwaysVisible: true },
  { id: 'domain' },
  { id: 'os' },
  { id: 'first_seen', defaultVisible: false },
];

describe('visibleColumnIds', () => {
  it('shows the defaults when nothing is saved', () => {
    expect(visibleColumnIds(columns, undefined)).toEqual(['name', 'domain', 'os']);
  });

  it('applies saved choices and ignores columns the table no longer has', () => {
    const saved = { domain: false, first_seen: true, retired: true };
    expect(visibleColumnIds(columns, saved)).toEqual(['name', 'os', 'first_seen']);
  });

  it('never hides the column that names the row', () => {
    expect(visibleColumnIds(columns, { name: false })).toContain('name');
  });
});

describe('withColumnChoice', () => {
  const preferences: Preferences = {
    tables: { 'device.software': { columns: { arch: false } }, devices: { columns: {} } },
  };

  it('records a choice for one table and keeps the others', () => {
    const next = withColumnChoice(preferences, 'devices', columns, 'domain', false);
    expect(next.tables).toEqual({
      'device.software': { columns: { arch: false } },
      devices: { columns: { domain: false } },
    });
  });

  it('drops choices that equal the default, and the table when none are left', () => {
    const hidden = withColumnChoice(null, 'devices', columns, 'domain', false);
    const shownAgain = withColumnChoice(hidden, 'devices', columns, 'domain', true);
    expect(shownAgain.tables).toEqual({});
  });

  it('keeps nothing for unknown or always-shown columns', () => {
    expect(withColumnChoice(null, 'devices', columns, 'retired', false).tables).toEqual({});
    expect(withColumnChoice(null, 'devices', columns, 'name', false).tables).toEqual({});
  });
});
