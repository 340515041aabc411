import { Badge } from '@fluentui/react-components';

import type { HealthState } from '../../api/types';
import { healthColor, healthLabel } from '../../lib/labels';

export function HealthBadge({ state }: { state: HealthState | null | undefined }) {
  return (
    <Badge appearance="tint" color={healthColor(state)} shape="rounded">
      {healthLabel(state)}
    </Badge>
  );
}
