import { Badge } from '@fluentui/react-components';

import type { ExposureLevel, RiskLevel } from '../../api/types';
import { levelColor, levelLabel } from '../../lib/labels';

/** A risk or exposure level; always spelled out, colour only adds to the text. */
export function LevelBadge({ level }: { level: RiskLevel | ExposureLevel | null | undefined }) {
  return (
    <Badge appearance="tint" color={levelColor(level)} shape="rounded">
      {levelLabel(level)}
    </Badge>
  );
}
