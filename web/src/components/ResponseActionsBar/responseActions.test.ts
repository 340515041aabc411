import { describe, expect, it } from 'vitest';

import { availableActions, noActionsReason, roleAllows } from './responseActions';
import type { ActionTarget, ResponseAction } from './responseActions';

const endpoint: ActionTarget = { knownFrom: 'endpoint', hasAgent: true, agentRevoked: false };
const both: ActionTarget = { ...endpoint, knownFrom: 'both' };
const directoryOnly: ActionTarget = {
  knownFrom: 'directory',
  hasAgent: false,
  agentRevoked: false,
};
const ids = (actions: ResponseAction[]) => actions.map((action) => action.id);

describe('roleAllows', () => {
  it('orders the roles', () => {
    expect(roleAllows('admin', 'responder')).toBe(true);
    expect(roleAllows('analyst', 'analyst')).toBe(true);
    expect(roleAllows('viewer', 'analyst')).toBe(false);
  });

  it('allows nothing to a role it does not know', () => {
    expect(roleAllows('superuser', 'viewer')).toBe(false);
    expect(roleAllows('constructor', 'viewer')).toBe(false);
  });
});

describe('availableActions', () => {
  it('offers tag management to analysts and above', () => {
    expect(ids(availableActions('analyst', endpoint))).toEqual(['manage-tags']);
    expect(ids(availableActions('admin', both))).toEqual(['manage-tags']);
  });

  it('offers nothing to a viewer', () => {
    expect(availableActions('viewer', endpoint)).toEqual([]);
    expect(noActionsReason('viewer', endpoint)).toBe(
      'No response actions: your role (viewer) can view devices but not act on them.',
    );
  });

  it('offers nothing on a device known only from the directory', () => {
    expect(availableActions('admin', directoryOnly)).toEqual([]);
    expect(noActionsReason('admin', directoryOnly)).toMatch(/only from the directory/);
  });

  it('applies each action’s own rule on the device’s state', () => {
    // An isolate-like action that needs a working agent and the responder role.
    const isolate = {
      id: 'manage-tags' as const,
      label: 'Isolate',
      minimumRole: 'responder' as const,
      appliesTo: (target: ActionTarget) => target.hasAgent && !target.agentRevoked,
    };
    expect(availableActions('responder', endpoint, [isolate])).toHaveLength(1);
    expect(availableActions('analyst', endpoint, [isolate])).toHaveLength(0);
    expect(availableActions('responder', { ...endpoint, agentRevoked: true }, [isolate])).toEqual(
      [],
    );
    expect(noActionsReason('responder', { ...endpoint, agentRevoked: true }, [isolate])).toBe(
      'No response actions apply to this device in its current state.',
    );
  });
});
