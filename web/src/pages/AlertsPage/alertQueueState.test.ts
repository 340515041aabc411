import { describe, expect, it } from 'vitest';

import { FIRST_PAGE, nextPage } from '../../components/DataTable/cursorPaging';
import {
  changeQueueState,
  fromTableChange,
  hasQueueFilters,
  queueQuery,
  readQueueState,
  writeQueueState,
} from './alertQueueState';

const NOW = new Date('2026-03-05T12:00:00Z');

function read(search: string) {
  return readQueueState(new URLSearchParams(search));
}

describe('readQueueState', () => {
  it('gives the defaults for an empty address', () => {
    const state = read('');
    expect(state).toMatchObject({
      severity: '',
      status: '',
      assignee: '',
      unassigned: false,
      range: '',
      sort: '-last_activity',
      pageSize: 30,
      trail: FIRST_PAGE,
      item: null,
    });
    expect(hasQueueFilters(state)).toBe(false);
  });

  it('drops values the server would refuse', () => {
    const state = read('severity=urgent&status=done&sort=-secret&size=31&range=1y');
    expect([state.severity, state.status, state.sort, state.pageSize, state.range]).toEqual([
      '',
      '',
      '-last_activity',
      30,
      '',
    ]);
  });

  it('drops a backwards custom range and custom ends without the custom range', () => {
    const backwards = read('range=custom&from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z');
    const stray = read('from=2026-03-01T00:00:00Z');
    expect([backwards.from, backwards.to]).toEqual([null, null]);
    expect(stray.from).toBeNull();
  });

  it('round-trips every filter, the page trail and the open alert through the address', () => {
    const search =
      'severity=high&status=in_progress&assignee=ana&rule=r-1&device=app&range=custom' +
      '&from=2026-03-01T00%3A00%3A00Z&to=2026-03-02T00%3A00%3A00Z&sort=-severity&size=50' +
      '&page=3&cursor=abc.def&item=alert-1';
    const state = read(search);
    expect(state.trail).toEqual({ page: 3, cursors: ['abc', 'def'] });
    expect(writeQueueState(state).toString()).toBe(search);
  });
});

describe('changeQueueState', () => {
  const paged = { ...read('severity=high'), trail: nextPage(FIRST_PAGE, 'c1') };

  it('starts again at the first page when a filter, the sort or the size changes', () => {
    expect(changeQueueState(paged, { filters: { status: 'new' } }).trail).toEqual(FIRST_PAGE);
    expect(changeQueueState(paged, { sort: 'title' }).trail).toEqual(FIRST_PAGE);
    expect(changeQueueState(paged, { pageSize: 100 }).trail).toEqual(FIRST_PAGE);
  });

  it('keeps the page when an alert is opened', () => {
    const opened = changeQueueState(paged, { item: 'a-1' });
    expect([opened.item, opened.trail.page]).toEqual(['a-1', 2]);
  });

  it('forgets the custom ends when another range is picked', () => {
    const custom = changeQueueState(paged, {
      filters: { range: 'custom', from: new Date('2026-03-01T00:00:00Z'), to: null },
    });
    const preset = changeQueueState(custom, { filters: { range: '7d' } });
    expect(custom.from?.toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect([preset.from, preset.to]).toEqual([null, null]);
  });

  it('trims typed text', () => {
    const typed = changeQueueState(paged, { filters: { device: '  app-01 ', assignee: ' ana' } });
    expect([typed.device, typed.assignee]).toEqual(['app-01', 'ana']);
  });
});

describe('queueQuery', () => {
  it('asks for the page with every filter the address holds', () => {
    const state = read('severity=critical&status=new&rule=r-9&device=db&page=2&cursor=c2');
    expect(queueQuery(state, NOW)).toEqual({
      severity: ['critical'],
      status: ['new'],
      assignee: null,
      rule: 'r-9',
      device_search: 'db',
      sort: '-last_activity',
      limit: 30,
      cursor: 'c2',
    });
  });

  it('asks for unassigned alerts with an empty assignee, whatever name is also given', () => {
    expect(queueQuery(read('unassigned=1&assignee=ana'), NOW).assignee).toBe('');
    expect(queueQuery(read('assignee=ana'), NOW).assignee).toBe('ana');
  });

  it('ends a preset range now and sends a custom range as given', () => {
    expect(queueQuery(read('range=24h'), NOW)).toMatchObject({ from: '2026-03-04T12:00:00Z' });
    expect(queueQuery(read('range=24h'), NOW).to).toBeUndefined();
    const custom = read('range=custom&to=2026-03-03T10:00:00Z');
    expect(queueQuery(custom, NOW)).toMatchObject({ from: null, to: '2026-03-03T10:00:00Z' });
  });
});

describe('fromTableChange', () => {
  it('maps the sorts the queue knows and refuses others', () => {
    expect(fromTableChange({ sort: '-severity' })).toEqual({ sort: '-severity' });
    expect(fromTableChange({ sort: 'device_name' })).toBeNull();
    expect(fromTableChange({ page: 4 })).toEqual({ trail: FIRST_PAGE });
  });
});
