import { Badge } from '@fluentui/react-components';

import { actionStateLabel, actionStateTone } from '../../lib/actionLabels';

/** An action's state as the server reports it. */
export function ActionStateBadge({ state }: { state: string }) {
  const tone = actionStateTone(state);
  return (
    <Badge
      // Fluent's "subtle" colour is white text meant for dark fills: an ended, neutral state
      // (cancelled, expired) is an outlined informative badge instead, readable in both themes.
      appearance={tone === 'subtle' ? 'outline' : 'tint'}
      color={tone === 'subtle' ? 'informative' : tone}
      shape="rounded"
      data-testid="action-state"
      data-state={state}
    >
      {actionStateLabel(state)}
    </Badge>
  );
}
