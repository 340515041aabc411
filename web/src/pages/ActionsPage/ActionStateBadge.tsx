import { Badge } from '@fluentui/react-components';

import { actionStateLabel, actionStateTone } from '../../lib/actionLabels';

/** An action's state as the server reports it. */
export function ActionStateBadge({ state }: { state: string }) {
  const tone = actionStateTone(state);
  return (
    <Badge
      appearance={tone === 'subtle' ? 'outline' : 'tint'}
      color={tone === 'subtle' ? 'subtle' : tone}
      shape="rounded"
      data-testid="action-state"
      data-state={state}
    >
      {actionStateLabel(state)}
    </Badge>
  );
}
