import { describe, expect, it } from 'vitest';

import type { ActionDetail, ContainmentInfo } from '../api/types';
import {
  actionStateLabel,
  actionStateTone,
  actionTimeline,
  actionTypeLabel,
  containmentSummary,
  pendingText,
  prettyJson,
} from './actionLabels';

const requested: ActionDetail = {
  id: 'a1',
  device_id: 'd1',
  device_name: 'web-01',
  type: 'isolate',
  state: 'requested',
  comment: 'beaconing',
  parameters: { mode: 'full', allow_users: [], allow_cgroups: [] },
  requested_by: 'rita',
  requested_at: '2026-12-05T01:00:00Z',
  delivered_at: null,
  started_at: null,
  completed_at: null,
  expires_at: '2026-12-12T01:00:00Z',
  cancelled_by: null,
  message: null,
  evidence: null,
};

const none: ContainmentInfo = {
  isolated: false,
  isolation_mode: null,
  app_restricted: false,
  checked_at: null,
  problems: [],
  pending: [],
};

describe('labels', () => {
  it('names known types and states, and keeps unknown ones as the server sent them', () => {
    expect(actionTypeLabel('isolate')).toBe('Isolate device');
    expect(actionTypeLabel('remove_app_restriction')).toBe('Remove app restriction');
    expect(actionTypeLabel('antivirus_scan')).toBe('antivirus_scan');
    expect(actionTypeLabel('toString')).toBe('toString');
    expect(actionStateLabel('cancelled')).toBe('Cancelled');
    expect(actionStateLabel('paused')).toBe('paused');
  });

  it('colours failures apart from successes and from actions in flight', () => {
    expect(actionStateTone('failed')).toBe('danger');
    expect(actionStateTone('succeeded')).toBe('success');
    expect(actionStateTone('delivered')).toBe('informative');
    expect(actionStateTone('cancelled')).toBe('subtle');
  });
});

describe('pendingText', () => {
  it('says what an unfinished action waits for', () => {
    expect(pendingText('isolate', 'requested')).toBe(
      'Isolation requested — waiting for the device',
    );
    expect(pendingText('release_isolation', 'delivered')).toBe(
      'Release from isolation delivered — waiting for the device to apply it',
    );
    expect(pendingText('restrict_app_execution', 'running')).toBe(
      'App restriction running on the device — waiting for its verified result',
    );
  });

  it('has nothing to say of a finished action', () => {
    expect(pendingText('isolate', 'succeeded')).toBeNull();
    expect(pendingText('isolate', 'cancelled')).toBeNull();
  });
});

describe('containmentSummary', () => {
  it('shows nothing as contained before the agent has reported', () => {
    expect(containmentSummary(none)).toEqual({
      isolation: 'Not reported yet',
      restriction: 'Not reported yet',
      isolated: false,
    });
  });

  it('shows what the agent verified, with the isolation mode', () => {
    const checked = { ...none, checked_at: '2026-12-05T01:02:00Z' };
    expect(containmentSummary(checked).isolation).toBe('Not isolated');
    const isolated = { ...checked, isolated: true, isolation_mode: 'selective' as const };
    expect(containmentSummary(isolated)).toEqual({
      isolation: 'Isolated (selective)',
      restriction: 'Not restricted',
      isolated: true,
    });
  });

  it('is not fooled by an isolation that was only requested', () => {
    const asked = {
      ...none,
      checked_at: '2026-12-05T01:02:00Z',
      pending: [{ id: 'a1', type: 'isolate', state: 'delivered' as const }],
    };
    expect(containmentSummary(asked).isolated).toBe(false);
    expect(containmentSummary(asked).isolation).toBe('Not isolated');
  });
});

describe('actionTimeline', () => {
  it('lists the steps still to come of an action in flight', () => {
    expect(actionTimeline(requested).map((step) => [step.label, step.done])).toEqual([
      ['Requested', true],
      ['Delivered to the device', false],
      ['Started on the device', false],
      ['Verified result', false],
    ]);
  });

  it('ends a cancelled action with who cancelled it, without steps it never took', () => {
    const cancelled = {
      ...requested,
      state: 'cancelled' as const,
      cancelled_by: 'rita',
      completed_at: '2026-12-05T01:05:00Z',
    };
    expect(actionTimeline(cancelled)).toEqual([
      { label: 'Requested', at: requested.requested_at, by: 'rita', done: true },
      { label: 'Cancelled', at: '2026-12-05T01:05:00Z', by: 'rita', done: true },
    ]);
  });

  it('keeps every step of a failed action', () => {
    const failed = {
      ...requested,
      state: 'failed' as const,
      delivered_at: '2026-12-05T01:01:00Z',
      started_at: '2026-12-05T01:01:30Z',
      completed_at: '2026-12-05T01:01:31Z',
      message: 'nft: no such file',
    };
    expect(actionTimeline(failed).map((step) => step.label)).toEqual([
      'Requested',
      'Delivered to the device',
      'Started on the device',
      'Failed',
    ]);
  });
});

describe('prettyJson', () => {
  it('indents device evidence and keeps markup as text', () => {
    expect(prettyJson({ rule: '<img src=x onerror=alert(1)>' })).toBe(
      '{\n  "rule": "<img src=x onerror=alert(1)>"\n}',
    );
  });

  it('says so when a value cannot be written', () => {
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(prettyJson(cycle)).toBe('(this value cannot be shown as JSON)');
  });
});
