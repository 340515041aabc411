import { describe, expect, it } from 'vitest';

import { FIRST_PAGE, nextPage } from '../../components/DataTable/cursorPaging';
import {
  changeTimelineState,
  chartRange,
  exportQuery,
  fromTableChange,
  histogramQuery,
  listQuery,
  readTimelineState,
  tableView,
  writeTimelineState,
} from './timelineState';

const FROM = '2020-10-16T21:58:26Z';
const TO = '2020-10-23T21:58:26Z';
const range = (from: string, to: string) => ({ from: new Date(from), to: new Date(to) });

function read(text: string) {
  return readTimelineState(new URLSearchParams(text));
}

describe('reading the timeline from the address', () => {
  it('reads range, chart range, kinds, search, order, size, page and item', () => {
    const state = read(
      `tab=timeline&from=2020-10-20T00:00:00Z&to=2020-10-21T00:00:00Z&chart_from=${FROM}` +
        `&chart_to=${TO}&kinds=process&kinds=file&q=cmd&order=oldest&size=50&page=2&cursor=abc&item=42`,
    );

    expect(state).toEqual({
      range: range('2020-10-20T00:00:00Z', '2020-10-21T00:00:00Z'),
      chart: range(FROM, TO),
      kinds: ['process', 'file'],
      q: 'cmd',
      order: 'oldest',
      pageSize: 50,
      trail: { page: 2, cursors: ['abc'] },
      item: '42',
    });
  });

  it('falls back to defaults for what the server would refuse', () => {
    const state = read(
      `from=${TO}&to=${FROM}&chart_from=x&kinds=&kinds=${'k'.repeat(65)}&order=random&size=7&item=1;drop`,
    );

    expect(state).toEqual({
      range: null,
      chart: null,
      kinds: [],
      q: '',
      order: 'newest',
      pageSize: 30,
      trail: FIRST_PAGE,
      item: null,
    });
  });

  it('drops a chart range that does not hold the window', () => {
    const state = read(`from=${FROM}&to=${TO}&chart_from=2020-10-20T00:00:00Z&chart_to=${TO}`);
    expect(state.chart).toBeNull();
    expect(chartRange(state)).toEqual(range(FROM, TO));
  });
});

describe('writing the timeline to the address', () => {
  it('round-trips and keeps the tab, leaving defaults out', () => {
    const text =
      `tab=timeline&from=2020-10-20T00:00:00Z&to=2020-10-21T00:00:00.500Z` +
      `&chart_from=${FROM}&chart_to=${TO}&kinds=dns&q=a+b&page=3&cursor=c2.c3&item=7`;
    const state = read(text);

    const written = writeTimelineState(state, new URLSearchParams('tab=timeline&page=9'));

    expect(written.toString()).toBe(
      'tab=timeline&from=2020-10-20T00%3A00%3A00Z&to=2020-10-21T00%3A00%3A00.500Z' +
        '&chart_from=2020-10-16T21%3A58%3A26Z&chart_to=2020-10-23T21%3A58%3A26Z' +
        '&kinds=dns&q=a+b&page=3&cursor=c2.c3&item=7',
    );
    expect(readTimelineState(written)).toEqual(state);
  });
});

describe('changing the timeline', () => {
  const paged = {
    ...read(`from=${FROM}&to=${TO}&kinds=process&item=5`),
    trail: nextPage(FIRST_PAGE, 'c2'),
  };

  it('starts at the first page when the events listed change, and keeps the flyout', () => {
    for (const change of [
      { kinds: ['file'] },
      { q: 'x' },
      { order: 'oldest' as const },
      { pageSize: 100 },
      { range: range(FROM, '2020-10-17T00:00:00Z') },
    ]) {
      const next = changeTimelineState(paged, change);
      expect(next.trail).toEqual(FIRST_PAGE);
      expect(next.item).toBe('5');
    }
  });

  it('keeps the chart range when the window moves, and drops it for a picked range', () => {
    const window = range('2020-10-18T00:00:00Z', '2020-10-19T00:00:00Z');
    const moved = changeTimelineState(paged, { window, chart: range(FROM, TO) });
    expect(moved.range).toEqual(window);
    expect(moved.chart).toEqual(range(FROM, TO));
    expect(chartRange(moved)).toEqual(range(FROM, TO));

    const picked = changeTimelineState(moved, { range: window });
    expect(picked.chart).toBeNull();
    expect(chartRange(picked)).toEqual(window);
  });

  it('moves between pages and opens the flyout without leaving the page', () => {
    const third = changeTimelineState(paged, { trail: nextPage(paged.trail, 'c3') });
    expect(third.trail.page).toBe(3);
    expect(changeTimelineState(third, { item: '9' })).toMatchObject({
      item: '9',
      trail: third.trail,
    });
  });
});

describe('queries', () => {
  const state = read(
    `from=2020-10-20T00:00:00Z&to=2020-10-21T00:00:00Z&chart_from=${FROM}&chart_to=${TO}` +
      `&kinds=process&q=cmd&page=2&cursor=c2&size=50`,
  );

  it('asks the list for one page of the window', () => {
    expect(listQuery(state)).toEqual({
      from: '2020-10-20T00:00:00Z',
      to: '2020-10-21T00:00:00Z',
      kinds: ['process'],
      q: 'cmd',
      order: 'newest',
      limit: 50,
      cursor: 'c2',
    });
  });

  it('asks the chart for every kind over its whole range', () => {
    expect(histogramQuery(state)).toEqual({ from: FROM, to: TO, q: 'cmd' });
  });

  it('exports the window as listed', () => {
    expect(exportQuery(state)).toEqual({
      from: '2020-10-20T00:00:00Z',
      to: '2020-10-21T00:00:00Z',
      kinds: ['process'],
      q: 'cmd',
    });
  });

  it('shows the order to the shared table as a sort on time, and maps its changes back', () => {
    expect(tableView(state)).toEqual({ page: 2, pageSize: 50, sort: '-time' });
    expect(fromTableChange({ sort: 'time' })).toEqual({ order: 'oldest' });
    expect(fromTableChange({ sort: '-time' })).toEqual({ order: 'newest' });
    expect(fromTableChange({ pageSize: 100 })).toEqual({ pageSize: 100 });
    expect(fromTableChange({ item: '3' })).toEqual({ item: '3' });
    expect(fromTableChange({ filters: { q: 'x' } })).toBeNull();
  });
});
