import { describe, expect, it } from 'vitest';

import { actionChoices, availableActions, noActionsReason, roleAllows } from './responseActions';
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
  it('offers tag management to analysts, containment to responders and above', () => {
    expect(ids(availableActions('analyst', endpoint))).toEqual(['manage-tags']);
    expect(ids(availableActions('responder', endpoint))).toEqual([
      'manage-tags',
      'isolate',
      'restrict-app',
    ]);
    expect(ids(availableActions('admin', both))).toEqual([
      'manage-tags',
      'isolate',
      'restrict-app',
    ]);
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

const reasons = (choices: ReturnType<typeof actionChoices>) =>
  Object.fromEntries(choices.map((choice) => [choice.action.id, choice.disabledReason]));

describe('actionChoices', () => {
  it('shows an analyst the containment actions disabled, naming the role they need', () => {
    const shown = reasons(actionChoices('analyst', endpoint));

    expect(shown['manage-tags']).toBeNull();
    expect(shown['isolate']).toBe('Needs the responder role or higher; you are an analyst.');
    expect(shown['restrict-app']).toBe('Needs the responder role or higher; you are an analyst.');
    expect(shown['action-center']).toBeNull();
  });

  it('shows a viewer only what there is to read', () => {
    expect(actionChoices('viewer', endpoint).map((choice) => choice.action.id)).toEqual([
      'action-center',
    ]);
  });

  it('shows nothing on a device known only from the directory', () => {
    expect(actionChoices('admin', directoryOnly)).toEqual([]);
  });

  it('disables containment without an agent, and says why', () => {
    const logsOnly: ActionTarget = { ...endpoint, hasAgent: false };
    const shown = reasons(actionChoices('responder', logsOnly));

    expect(shown['manage-tags']).toBeNull();
    expect(shown['isolate']).toMatch(/no Hostwatch agent/);
    expect(
      reasons(actionChoices('responder', { ...endpoint, agentRevoked: true }))['isolate'],
    ).toMatch(/revoked/);
  });

  it('follows the verified containment, not the requests', () => {
    const requested = reasons(
      actionChoices('responder', { ...endpoint, pendingTypes: ['isolate'] }),
    );
    expect(requested['isolate']).toBe('This action is already on its way to the device.');
    // Isolation on its way may be taken back; the device is not shown isolated for it.
    expect(requested['release-isolation']).toBeNull();

    const isolated = reasons(actionChoices('responder', { ...endpoint, isolated: true }));
    expect(isolated['isolate']).toBe('The agent reports this device isolated already.');
    expect(isolated['release-isolation']).toBeNull();

    const open = reasons(actionChoices('responder', endpoint));
    expect(open['release-isolation']).toBe('The agent reports this device not isolated.');
    expect(open['remove-restriction']).toBe('The agent reports app execution not restricted.');

    const restricted = reasons(actionChoices('admin', { ...endpoint, appRestricted: true }));
    expect(restricted['restrict-app']).toMatch(/restricted already/);
    expect(restricted['remove-restriction']).toBeNull();
  });
});
