import { Badge } from '@fluentui/react-components';
import { DesktopRegular, LinkMultipleRegular, OrganizationRegular } from '@fluentui/react-icons';

import type { KnownFrom } from '../../api/types';
import { knownFromLabel } from '../../lib/labels';

const ICONS = {
  endpoint: <DesktopRegular />,
  directory: <OrganizationRegular />,
  both: <LinkMultipleRegular />,
};

/** Where a device is known from: its endpoint, the directory, or both; spelled out. */
export function KnownFromBadge({ knownFrom }: { knownFrom: KnownFrom | null }) {
  return (
    <Badge
      appearance="outline"
      color="informative"
      shape="rounded"
      icon={knownFrom === null ? undefined : ICONS[knownFrom]}
      data-testid="known-from"
    >
      {knownFromLabel(knownFrom)}
    </Badge>
  );
}
