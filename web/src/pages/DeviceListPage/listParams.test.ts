import { describe, expect, it } from 'vitest';

import { hasFilters, nextSort, readFilters, sortDirection, writeFilters } from './listParams';

describe('readFilters', () => {
  it('reads the filters from the address', () => {
    const filters = readFilters(new URLSearchParams('q=web&tag=prod&health=active&sort=-name'));
    expect(filters).toEqual({ q: 'web', tag: 'prod', health: 'active', sort: '-name' });
  });

  it('drops values the API would reject', () => {
    const filters = readFilters(new URLSearchParams('health=on-fire&sort=random'));
    expect(filters.health).toBe('');
    expect(filters.sort).toBe('name');
  });
});

describe('writeFilters', () => {
  it('leaves out defaults and blanks', () => {
    const params = writeFilters({ q: '  ', tag: '', health: '', sort: 'name' });
    expect(params.toString()).toBe('');
  });

  it('round-trips', () => {
    const filters = {
      q: 'db',
      tag: 'x y',
      health: 'inactive' as const,
      sort: 'last_seen' as const,
    };
    expect(readFilters(writeFilters(filters))).toEqual(filters);
  });
});

describe('sorting by column', () => {
  it('flips a column that is already the sort', () => {
    expect(nextSort('name', 'name')).toBe('-name');
    expect(nextSort('-name', 'name')).toBe('name');
  });

  it('starts last seen with the most recent', () => {
    expect(nextSort('name', 'last_seen')).toBe('-last_seen');
    expect(sortDirection('-last_seen', 'last_seen')).toBe('descending');
    expect(sortDirection('-last_seen', 'name')).toBeUndefined();
  });

  it('knows when a filter is set', () => {
    expect(hasFilters(readFilters(new URLSearchParams('sort=-name')))).toBe(false);
    expect(hasFilters(readFilters(new URLSearchParams('tag=a')))).toBe(true);
  });
});
