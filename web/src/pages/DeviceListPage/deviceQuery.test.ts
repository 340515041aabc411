import { describe, expect, it } from 'vitest';

import { readTableState } from '../../components/DataTable/tableState';
import { DEVICE_TABLE, deviceQuery } from './deviceQuery';

const now = new Date('2026-12-04T12:00:00Z');
const stateOf = (search: string) => readTableState(new URLSearchParams(search), DEVICE_TABLE);

describe('deviceQuery', () => {
  it('asks for the first page with the defaults', () => {
    expect(deviceQuery(stateOf(''), now)).toEqual({
      q: null,
      known_from: null,
      health: null,
      risk: null,
      exposure: null,
      domain: null,
      os: null,
      tag: null,
      sort: 'name',
      limit: 30,
      offset: 0,
    });
  });

  it('passes every filter and the page as an offset', () => {
    const query = deviceQuery(
      stateOf(
        'q=web&known_from=both&health=inactive&risk=high&exposure=low&domain=corp&os=ubuntu' +
          '&tag=prod&sort=-last_seen&size=50&page=3',
      ),
      now,
    );
    expect(query).toMatchObject({
      q: 'web',
      known_from: 'both',
      health: 'inactive',
      risk: 'high',
      exposure: 'low',
      domain: 'corp',
      os: 'ubuntu',
      tag: ['prod'],
      sort: '-last_seen',
      limit: 50,
      offset: 100,
    });
  });

  it('turns a last-seen window into times', () => {
    expect(deviceQuery(stateOf('seen=24h'), now).last_seen_after).toBe('2026-12-03T12:00:00.000Z');
    expect(deviceQuery(stateOf('seen=over-30d'), now)).toMatchObject({
      last_seen_before: '2026-11-04T12:00:00.000Z',
    });
    expect(deviceQuery(stateOf('seen=forever'), now).last_seen_after).toBeUndefined();
  });
});
