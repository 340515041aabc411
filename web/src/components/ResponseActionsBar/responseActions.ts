// Which response actions a user may take on a device: their role must be high enough, and
// the device must be in a state where the action makes sense. An action the user's role
// does not allow is shown disabled, with the role it needs; one the device's state rules
// out is shown disabled with the reason. Only built actions are listed; an action joins
// RESPONSE_ACTIONS when its endpoint exists, never before. The server enforces the same
// roles: this only saves a user a request that would be refused.
import type { ActionType, KnownFrom, Role } from '../../api/types';

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
  /** As the agent last verified on the device (never as requested). */
  isolated?: boolean;
  appRestricted?: boolean;
  /** The types of the device's actions not finished yet. */
  pendingTypes?: readonly string[];
}

export type ResponseActionId =
  | 'manage-tags'
  | 'isolate'
  | 'release-isolation'
  | 'restrict-app'
  | 'remove-restriction'
  | 'action-center';

export interface ResponseAction {
  id: ResponseActionId;
  label: string;
  minimumRole: Role;
  /** The API's action type, for the actions the agent runs. */
  type?: ActionType;
  /** Whether the device's state allows the action (its agent, isolation, and so on). */
  appliesTo: (target: ActionTarget) => boolean;
  /** Why the device's state rules the action out; null when it does not. */
  blockedBy?: (target: ActionTarget) => string | null;
}

function fromEndpoint(target: ActionTarget): boolean {
  return target.knownFrom === 'endpoint' || target.knownFrom === 'both';
}

function pending(target: ActionTarget, type: ActionType): boolean {
  return (target.pendingTypes ?? []).includes(type);
}

/** Why an action run by the agent cannot be asked for; null when the agent can take it. */
function agentMissing(target: ActionTarget): string | null {
  if (!target.hasAgent) {
    return 'This device has no Hostwatch agent to run the action (it is known from imported logs only).';
  }
  if (target.agentRevoked) {
    return 'The agent of this device was revoked; enroll it again to act on the device.';
  }
  return null;
}

function containment(
  type: ActionType,
  state: (target: ActionTarget) => string | null,
): Pick<ResponseAction, 'appliesTo' | 'blockedBy' | 'type' | 'minimumRole'> {
  return {
    type,
    minimumRole: 'responder',
    appliesTo: fromEndpoint,
    blockedBy: (target) =>
      agentMissing(target) ??
      (pending(target, type) ? 'This action is already on its way to the device.' : null) ??
      state(target),
  };
}

export const RESPONSE_ACTIONS: readonly ResponseAction[] = [
  { id: 'manage-tags', label: 'Manage tags', minimumRole: 'analyst', appliesTo: fromEndpoint },
  {
    id: 'isolate',
    label: 'Isolate device',
    ...containment('isolate', (target) =>
      target.isolated === true ? 'The agent reports this device isolated already.' : null,
    ),
  },
  {
    id: 'release-isolation',
    label: 'Release from isolation',
    ...containment('release_isolation', (target) =>
      target.isolated === true || pending(target, 'isolate')
        ? null
        : 'The agent reports this device not isolated.',
    ),
  },
  {
    id: 'restrict-app',
    label: 'Restrict app execution',
    ...containment('restrict_app_execution', (target) =>
      target.appRestricted === true ? 'The agent reports app execution restricted already.' : null,
    ),
  },
  {
    id: 'remove-restriction',
    label: 'Remove app restriction',
    ...containment('remove_app_restriction', (target) =>
      target.appRestricted === true || pending(target, 'restrict_app_execution')
        ? null
        : 'The agent reports app execution not restricted.',
    ),
  },
  { id: 'action-center', label: 'Action center', minimumRole: 'viewer', appliesTo: fromEndpoint },
];

/** An action as the bar shows it: enabled, or disabled with the reason in its tooltip. */
export interface ActionChoice {
  action: ResponseAction;
  /** Null when the action can be taken. */
  disabledReason: string | null;
}

export function roleNeeded(role: Role | string, needed: Role): string {
  return `Needs the ${needed} role or higher; you are ${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}.`;
}

/**
 * The actions to show on a device, each enabled or disabled with why. A viewer, who may take
 * none of them, is shown only the ones to read (the action center), with noActionsReason.
 */
export function actionChoices(
  role: Role | string,
  target: ActionTarget,
  actions: readonly ResponseAction[] = RESPONSE_ACTIONS,
): ActionChoice[] {
  const acting = actions.some(
    (action) => action.minimumRole !== 'viewer' && roleAllows(role, action.minimumRole),
  );
  return actions
    .filter((action) => action.appliesTo(target))
    .filter((action) => acting || action.minimumRole === 'viewer')
    .map((action) => ({
      action,
      disabledReason: !roleAllows(role, action.minimumRole)
        ? roleNeeded(role, action.minimumRole)
        : (action.blockedBy?.(target) ?? null),
    }));
}

/** The actions the user can take now: the enabled choices. */
export function availableActions(
  role: Role | string,
  target: ActionTarget,
  actions: readonly ResponseAction[] = RESPONSE_ACTIONS,
): ResponseAction[] {
  return actionChoices(role, target, actions)
    .filter((choice) => choice.disabledReason === null && choice.action.minimumRole !== 'viewer')
    .map((choice) => choice.action);
}

/** Why the user can change nothing on the device, in words; null when some action is open. */
export function noActionsReason(
  role: Role | string,
  target: ActionTarget,
  actions: readonly ResponseAction[] = RESPONSE_ACTIONS,
): string | null {
  if (availableActions(role, target, actions).length > 0) return null;
  if (!fromEndpoint(target)) {
    return 'No response actions: this device is known only from the directory.';
  }
  if (
    !actions.some(
      (action) => action.minimumRole !== 'viewer' && roleAllows(role, action.minimumRole),
    )
  ) {
    return `No response actions: your role (${role}) can view devices but not act on them.`;
  }
  return 'No response actions apply to this device in its current state.';
}
