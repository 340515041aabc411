import { describe, expect, it } from 'vitest';

import { FIRST_PAGE, nextPage } from '../../components/DataTable/cursorPaging';
import {
  changeIncidentsState,
  fromTableChange,
  incidentStatusLabel,
  incidentsQuery,
  readIncidentsState,
  writeIncidentsState,
} from './incidentsState';

function read(search: string) {
  return readIncidentsState(new URLSearchParams(search));
}

describe('incidents state', () => {
  it('reads filters, page and the open incident, and writes the same address back', () => {
    const search = 'status=in_progress&severity=high&size=50&page=2&cursor=c1&item=inc-1';
    const state = read(search);
    expect(state).toEqual({
      status: 'in_progress',
      severity: 'high',
      pageSize: 50,
      trail: { page: 2, cursors: ['c1'] },
      item: 'inc-1',
    });
    expect(writeIncidentsState(state).toString()).toBe(search);
  });

  it('drops values the server would refuse', () => {
    const state = read('status=new&severity=urgent&size=7');
    expect([state.status, state.severity, state.pageSize]).toEqual(['', '', 30]);
    expect(writeIncidentsState(state).toString()).toBe('');
  });

  it('starts at the first page when a filter changes, not when an incident opens', () => {
    const paged = { ...read('status=active'), trail: nextPage(FIRST_PAGE, 'c1') };
    expect(changeIncidentsState(paged, { filters: { severity: 'low' } })).toMatchObject({
      status: 'active',
      severity: 'low',
      trail: FIRST_PAGE,
    });
    expect(changeIncidentsState(paged, { item: 'x' }).trail.page).toBe(2);
  });

  it('asks the server for the page with its filters', () => {
    expect(incidentsQuery(read('severity=critical&page=2&cursor=c9'))).toEqual({
      status: null,
      severity: ['critical'],
      limit: 30,
      cursor: 'c9',
    });
    expect(fromTableChange({ sort: 'title' })).toBeNull();
    expect(fromTableChange({ pageSize: 100 })).toEqual({ pageSize: 100 });
  });
});

describe('incidentStatusLabel', () => {
  it('names known statuses and keeps unknown codes', () => {
    expect(incidentStatusLabel('in_progress')).toBe('In progress');
    expect(incidentStatusLabel('archived')).toBe('archived');
    expect(incidentStatusLabel('toString')).toBe('toString');
  });
});
