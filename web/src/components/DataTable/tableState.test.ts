import { describe, expect, it } from 'vitest';

import {
  DEFAULT_PAGE_SIZE,
  changeTableState,
  hasActiveFilters,
  nextSort,
  offsetOf,
  pageCount,
  readTableState,
  sortDirection,
  writeTableState,
} from './tableState';
import type { TableSpec } from './tableState';

const spec: TableSpec = {
  sorts: ['name', '-name', 'last_seen', '-last_seen'],
  defaultSort: 'name',
  filters: { q: null, health: ['active', 'inactive'] },
};

describe('readTableState', () => {
  it('reads page, size, sort, filters and the open item', () => {
    const state = readTableState(
      new URLSearchParams('page=3&size=50&sort=-last_seen&q=web&health=active&item=42'),
      spec,
    );
    expect(state).toEqual({
      page: 3,
      pageSize: 50,
      sort: '-last_seen',
      filters: { q: 'web', health: 'active' },
      item: '42',
    });
  });

  it('falls back to defaults for values the server would refuse', () => {
    const state = readTableState(
      new URLSearchParams('page=-2&size=7&sort=random&health=on-fire&item='),
      spec,
    );
    expect(state).toEqual({
      page: 1,
      pageSize: DEFAULT_PAGE_SIZE,
      sort: 'name',
      filters: { q: '', health: '' },
      item: null,
    });
  });

  it('keeps the page within the offsets the server answers', () => {
    expect(readTableState(new URLSearchParams('page=9999999'), spec).page).toBe(3334);
    expect(readTableState(new URLSearchParams('page=1e3'), spec).page).toBe(1);
  });
});

describe('writeTableState', () => {
  it('round-trips and leaves out defaults', () => {
    const params = new URLSearchParams('page=2&q=db&sort=-name&item=a%20b');
    const state = readTableState(params, spec);
    const written = writeTableState(state, spec);
    expect(written.toString()).toBe('q=db&sort=-name&page=2&item=a+b');
    expect(readTableState(written, spec)).toEqual(state);
  });

  it('keeps parameters that are not the table’s', () => {
    const base = new URLSearchParams('tab=software&page=4');
    const state = readTableState(new URLSearchParams(), spec);
    expect(writeTableState(state, spec, base).toString()).toBe('tab=software');
  });
});

describe('changeTableState', () => {
  const state = readTableState(new URLSearchParams('page=3&item=9'), spec);

  it('starts again at page 1 when filters, sort or size change', () => {
    expect(changeTableState(state, { filters: { q: 'x' } }).page).toBe(1);
    expect(changeTableState(state, { sort: '-name' }).page).toBe(1);
    expect(changeTableState(state, { pageSize: 100 })).toMatchObject({ page: 1, pageSize: 100 });
  });

  it('moves between pages and opens or closes the flyout', () => {
    expect(changeTableState(state, { page: 0 }).page).toBe(1);
    expect(changeTableState(state, { page: 4 }).page).toBe(4);
    expect(changeTableState(state, { item: null }).item).toBeNull();
    expect(changeTableState(state, { item: '5' })).toMatchObject({ item: '5', page: 3 });
  });
});

describe('paging arithmetic', () => {
  it('counts pages and offsets', () => {
    expect(pageCount(70, 30)).toBe(3);
    expect(pageCount(0, 30)).toBe(1);
    expect(offsetOf({ ...readTableState(new URLSearchParams('page=3'), spec) })).toBe(60);
  });

  it('knows when a filter is set', () => {
    expect(hasActiveFilters(readTableState(new URLSearchParams('sort=-name'), spec))).toBe(false);
    expect(hasActiveFilters(readTableState(new URLSearchParams('q=a'), spec))).toBe(true);
  });
});

describe('sorting by column', () => {
  it('flips a column that is already the sort', () => {
    expect(nextSort('name', 'name')).toBe('-name');
    expect(nextSort('-name', 'name')).toBe('name');
  });

  it('can start with the newest first', () => {
    expect(nextSort('name', 'last_seen', true)).toBe('-last_seen');
    expect(sortDirection('-last_seen', 'last_seen')).toBe('descending');
    expect(sortDirection('-last_seen', 'name')).toBeUndefined();
  });
});
