// Words for response actions: their types and states, what a pending action is waiting for,
// the steps of an action's life, and the device's verified containment. Pure, so unit tested.
//
// A request is not a result: an action is shown as done only when the agent has reported
// it succeeded, and a device is shown isolated only when the agent read the isolation back
// from the kernel (the device's `containment`), never because someone asked for it.
import type {
  ActionDetail,
  ActionState,
  ActionType,
  ContainmentInfo,
  PendingActionRef,
} from '../api/types';

export const ACTION_TYPES: readonly ActionType[] = [
  'isolate',
  'release_isolation',
  'restrict_app_execution',
  'remove_app_restriction',
];

export const ACTION_STATES: readonly ActionState[] = [
  'requested',
  'delivered',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'expired',
];

/** States an action can still leave: the device has not finished with it. */
export const IN_FLIGHT_STATES: readonly ActionState[] = ['requested', 'delivered', 'running'];

const TYPE_LABELS: Record<ActionType, string> = {
  isolate: 'Isolate device',
  release_isolation: 'Release from isolation',
  restrict_app_execution: 'Restrict app execution',
  remove_app_restriction: 'Remove app restriction',
};

/** The action's name; a type this page does not know yet is shown as the server names it. */
export function actionTypeLabel(type: string): string {
  return Object.prototype.hasOwnProperty.call(TYPE_LABELS, type)
    ? TYPE_LABELS[type as ActionType]
    : type;
}

const STATE_LABELS: Record<ActionState, string> = {
  requested: 'Requested',
  delivered: 'Delivered',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  expired: 'Expired',
};

export function actionStateLabel(state: string): string {
  return Object.prototype.hasOwnProperty.call(STATE_LABELS, state)
    ? STATE_LABELS[state as ActionState]
    : state;
}

export type StateTone = 'informative' | 'warning' | 'success' | 'danger' | 'subtle';

/** The badge colour of a state: in flight, done, failed, or over without effect. */
export function actionStateTone(state: string): StateTone {
  switch (state) {
    case 'requested':
    case 'delivered':
    case 'running':
      return 'informative';
    case 'succeeded':
      return 'success';
    case 'failed':
      return 'danger';
    case 'expired':
      return 'warning';
    default:
      return 'subtle';
  }
}

// What each containment action is called while it is on its way ("Isolation requested").
const NOUNS: Record<ActionType, string> = {
  isolate: 'Isolation',
  release_isolation: 'Release from isolation',
  restrict_app_execution: 'App restriction',
  remove_app_restriction: 'Removal of the app restriction',
};

/**
 * What an unfinished action is waiting for, in words: "Isolation requested — waiting for the
 * device". Null for a finished action, which has a result instead.
 */
export function pendingText(type: string, state: string): string | null {
  const noun = Object.prototype.hasOwnProperty.call(NOUNS, type)
    ? NOUNS[type as ActionType]
    : actionTypeLabel(type);
  switch (state) {
    case 'requested':
      return `${noun} requested — waiting for the device`;
    case 'delivered':
      return `${noun} delivered — waiting for the device to apply it`;
    case 'running':
      return `${noun} running on the device — waiting for its verified result`;
    default:
      return null;
  }
}

/** The device's unfinished actions of one type. */
export function pendingOf(pending: readonly PendingActionRef[], type: ActionType) {
  return pending.filter((action) => action.type === type);
}

export interface ContainmentSummary {
  /** "Isolated (full)", "Not isolated" or "Not reported yet". */
  isolation: string;
  /** "Restricted", "Not restricted" or "Not reported yet". */
  restriction: string;
  /** Whether the agent verified the device isolated: only then the banner shows. */
  isolated: boolean;
}

const MODE_LABELS = { full: 'full', selective: 'selective' } as const;

/** The containment the agent last verified on the device; nothing is assumed from requests. */
export function containmentSummary(containment: ContainmentInfo): ContainmentSummary {
  if (containment.checked_at === null) {
    return { isolation: 'Not reported yet', restriction: 'Not reported yet', isolated: false };
  }
  const mode = containment.isolation_mode === null ? '' : MODE_LABELS[containment.isolation_mode];
  return {
    isolation: containment.isolated ? `Isolated${mode ? ` (${mode})` : ''}` : 'Not isolated',
    restriction: containment.app_restricted ? 'Restricted' : 'Not restricted',
    isolated: containment.isolated,
  };
}

export interface TimelineStep {
  label: string;
  at: string | null;
  /** Who did it, where a person did. */
  by: string | null;
  /** Whether the step happened; a step still to come is listed as "Not yet". */
  done: boolean;
}

/**
 * The life of an action, step by step: requested, delivered, started, and how it ended.
 * Steps an ended action skipped (a cancelled one was never delivered) are left out.
 */
export function actionTimeline(action: ActionDetail): TimelineStep[] {
  const steps: TimelineStep[] = [
    { label: 'Requested', at: action.requested_at, by: action.requested_by, done: true },
  ];
  const ended = !IN_FLIGHT_STATES.includes(action.state);
  if (action.delivered_at !== null || !ended) {
    steps.push({
      label: 'Delivered to the device',
      at: action.delivered_at,
      by: null,
      done: action.delivered_at !== null,
    });
  }
  if (action.started_at !== null || !ended) {
    steps.push({
      label: 'Started on the device',
      at: action.started_at,
      by: null,
      done: action.started_at !== null,
    });
  }
  if (ended) {
    steps.push({
      label: actionStateLabel(action.state),
      at: action.completed_at,
      by: action.state === 'cancelled' ? action.cancelled_by : null,
      done: true,
    });
  } else {
    steps.push({ label: 'Verified result', at: null, by: null, done: false });
  }
  return steps;
}

/**
 * Device-reported JSON as indented text, to be shown as text (never as markup). Keys keep
 * the device's order; a value that cannot be written (a cycle) is said so.
 */
export function prettyJson(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? 'null';
  } catch {
    return '(this value cannot be shown as JSON)';
  }
}

/** The longest comment the API takes (hostwatch.response.schemas.MAX_COMMENT). */
export const MAX_COMMENT = 2000;
