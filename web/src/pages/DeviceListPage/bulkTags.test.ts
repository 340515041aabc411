import { describe, expect, it } from 'vitest';

import { bulkOutcomes } from './bulkTags';

const web = { id: 'd1', name: 'web-01' };
const db = { id: 'd2', name: 'db-01' };
const gone = { id: 'd3', name: 'old-01' };

describe('bulkOutcomes', () => {
  it('tells each device apart: changed, already so, failed, not reported', () => {
    const outcomes = bulkOutcomes(
      [web, db, gone, { id: 'd4', name: 'lost' }],
      [
        { device_id: 'd1', added: ['review'], removed: [], error: null },
        { device_id: 'd2', added: [], removed: [], error: null },
        { device_id: 'd3', added: [], removed: [], error: 'no device with this id' },
      ],
      'add',
      'review',
    );

    expect(outcomes.map((o) => [o.device.name, o.kind, o.text])).toEqual([
      ['web-01', 'changed', 'tagged “review”'],
      ['db-01', 'unchanged', 'already tagged “review”'],
      ['old-01', 'failed', 'no device with this id'],
      ['lost', 'failed', 'the server did not report on this device'],
    ]);
  });

  it('reads removals from the removed list', () => {
    const outcomes = bulkOutcomes(
      [web, db],
      [
        { device_id: 'd1', added: [], removed: ['review'], error: null },
        { device_id: 'd2', added: [], removed: [], error: null },
      ],
      'remove',
      'review',
    );

    expect(outcomes.map((o) => o.text)).toEqual(['untagged “review”', 'had no tag “review”']);
  });
});
