import { describe, expect, it } from 'vitest';

import {
  actionListQuery,
  changeActionListState,
  hasActionFilters,
  readActionListState,
  writeActionListState,
} from './actionListState';

const NOW = new Date('2026-12-05T12:00:00Z');

describe('readActionListState', () => {
  it('reads the filters, the order and the open action from the address', () => {
    const state = readActionListState(
      new URLSearchParams(
        'state=requested&type=isolate&device=d1&requester=rita&sort=state&item=a1',
      ),
    );

    expect(state).toMatchObject({
      state: 'requested',
      type: 'isolate',
      device: 'd1',
      requester: 'rita',
      sort: 'state',
      item: 'a1',
    });
  });

  it('falls back to the defaults for values the server would refuse', () => {
    const state = readActionListState(
      new URLSearchParams(
        `state=done&type=format_disk&sort=device&size=7&device=${'x'.repeat(37)}`,
      ),
    );

    expect(state).toMatchObject({
      state: '',
      type: '',
      device: '',
      sort: '-requested_at',
      pageSize: 30,
    });
  });

  it('drops a backwards custom range', () => {
    const state = readActionListState(
      new URLSearchParams('range=custom&from=2026-12-05T10:00:00Z&to=2026-12-05T09:00:00Z'),
    );
    expect([state.from, state.to]).toEqual([null, null]);
  });
});

describe('writeActionListState', () => {
  it('round-trips a state and keeps the parameters that are not the list’s', () => {
    const params = new URLSearchParams('tab=actions&state=failed&item=a9');
    const state = readActionListState(params);

    const written = writeActionListState(state, params);

    expect(written.toString()).toBe('tab=actions&state=failed&item=a9');
  });

  it('leaves defaults out', () => {
    expect(writeActionListState(readActionListState(new URLSearchParams())).toString()).toBe('');
  });
});

describe('changeActionListState', () => {
  it('starts at the first page when a filter changes', () => {
    const paged = readActionListState(new URLSearchParams('page=3&cursor=AA.BB'));
    expect(paged.trail.page).toBe(3);

    const next = changeActionListState(paged, { filters: { state: 'cancelled' } });

    expect(next.trail.page).toBe(1);
    expect(next.state).toBe('cancelled');
  });

  it('keeps the page when only the open action changes', () => {
    const paged = readActionListState(new URLSearchParams('page=2&cursor=AA'));
    expect(changeActionListState(paged, { item: 'a1' }).trail.page).toBe(2);
  });
});

describe('actionListQuery', () => {
  it('asks for the filters, with a preset range ending now', () => {
    const state = readActionListState(
      new URLSearchParams('state=requested&requester=rita&range=24h&cursor=AA&page=2'),
    );

    expect(actionListQuery(state, NOW)).toEqual({
      device_id: null,
      state: ['requested'],
      type: null,
      requested_by: 'rita',
      from: '2026-12-04T12:00:00Z',
      sort: '-requested_at',
      limit: 30,
      cursor: 'AA',
    });
  });

  it('pins the profile’s list to its device, whatever the address says', () => {
    const state = readActionListState(new URLSearchParams('device=other'));

    expect(actionListQuery(state, NOW, 'mine').device_id).toBe('mine');
    expect(hasActionFilters(state, true)).toBe(false);
    expect(hasActionFilters(state)).toBe(true);
  });
});
