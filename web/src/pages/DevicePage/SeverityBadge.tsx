import { Badge } from '@fluentui/react-components';

import { severityColor, severityLabel } from '../../lib/alertLabels';

/** An alert's severity; always spelled out, colour only adds to the text. */
export function SeverityBadge({ severity }: { severity: string }) {
  return (
    <Badge appearance="tint" shape="rounded" color={severityColor(severity)}>
      {severityLabel(severity)}
    </Badge>
  );
}
