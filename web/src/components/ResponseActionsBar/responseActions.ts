// Which response actions a user may take on a device: their role must be high enough, and
// the device must be in a state where the action makes sense. Only built actions are
// listed; an action joins RESPONSE_ACTIONS when its endpoint exists, never before.
import type { KnownFrom, Role } from '../../api/types';

const ROLE_RANK: Record<Role, number> = { viewer: 0, analyst: 1, responder: 2, admin: 3 };

/** Whether `role` holds every right of `needed` (roles are ordered). */
export function roleAllows(role: Role | string, needed: Role): boolean {
  const rank = Object.prototype.hasOwnProperty.call(ROLE_RANK, role) ? ROLE_RANK[role as Role] : -1;
  return rank >= ROLE_RANK[needed];
}

/** What the rules need to know of a device. */
export interface ActionTarget {
  knownFrom: KnownFrom | null;
  hasAgent: boolean;
  agentRevoked: boolean;
}

export type ResponseActionId = 'manage-tags';

export interface ResponseAction {
  id: ResponseActionId;
  label: string;
  minimumRole: Role;
  /** Whether the device's state allows the action (its agent, isolation, and so on). */
  appliesTo: (target: ActionTarget) => boolean;
}

function fromEndpoint(target: ActionTarget): boolean {
  return target.knownFrom === 'endpoint' || target.knownFrom === 'both';
}

export const RESPONSE_ACTIONS: readonly ResponseAction[] = [
  { id: 'manage-tags', label: 'Manage tags', minimumRole: 'analyst', appliesTo: fromEndpoint },
];

export function availableActions(
  role: Role | string,
  target: ActionTarget,
  actions: readonly ResponseAction[] = RESPONSE_ACTIONS,
): ResponseAction[] {
  return actions.filter(
    (action) => roleAllows(role, action.minimumRole) && action.appliesTo(target),
  );
}

/** Why the bar is empty, in words; null when some action is available. */
export function noActionsReason(
  role: Role | string,
  target: ActionTarget,
  actions: readonly ResponseAction[] = RESPONSE_ACTIONS,
): string | null {
  if (availableActions(role, target, actions).length > 0) return null;
  if (!fromEndpoint(target)) {
    return 'No response actions: this device is known only from the directory.';
  }
  if (!actions.some((action) => roleAllows(role, action.minimumRole))) {
    return `No response actions: your role (${role}) can view devices but not act on them.`;
  }
  return 'No response actions apply to this device in its current state.';
}
