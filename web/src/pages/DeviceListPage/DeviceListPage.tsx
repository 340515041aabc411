import { Badge, Button, Caption1, Title3, makeStyles, tokens } from '@fluentui/react-components';
import { TagMultipleRegular } from '@fluentui/react-icons';
import { useState } from 'react';
import { useNavigate } from 'react-router';

import { listDevices } from '../../api/client';
import type { DeviceSummary } from '../../api/types';
import { AppLink } from '../../components/AppLink/AppLink';
import { DataTable } from '../../components/DataTable/DataTable';
import type { DataColumn } from '../../components/DataTable/DataTable';
import { hasActiveFilters } from '../../components/DataTable/tableState';
import { useTableState } from '../../components/DataTable/useTableState';
import { DateTime } from '../../components/DateTime/DateTime';
import { HealthBadge } from '../../components/HealthBadge/HealthBadge';
import { KnownFromBadge } from '../../components/KnownFromBadge/KnownFromBadge';
import { LevelBadge } from '../../components/LevelBadge/LevelBadge';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { roleAllows } from '../../components/ResponseActionsBar/responseActions';
import { useCurrentUser } from '../../components/SessionProvider/SessionProvider';
import { SourceList } from '../../components/SourceList/SourceList';
import { TagList } from '../../components/TagList/TagList';
import { useApiQuery } from '../../hooks/useApiQuery';
import { useDocumentTitle } from '../../hooks/useDocumentTitle';
import { formatUtcTime, parseApiTime } from '../../lib/format';
import { healthLabel, knownFromLabel, levelLabel, osLabel, sourceLabel } from '../../lib/labels';
import { BulkTagDialog } from './BulkTagDialog';
import { DEVICE_TABLE, deviceQuery } from './deviceQuery';
import { DeviceFilters } from './DeviceFilters';
import { EmptyDevices } from './EmptyDevices';

const useStyles = makeStyles({
  page: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
    padding: `${tokens.spacingVerticalL} ${tokens.spacingHorizontalXL}`,
    minWidth: 0,
  },
  heading: { margin: 0 },
  name: { fontWeight: tokens.fontWeightSemibold, color: tokens.colorNeutralForeground1 },
  secondary: { display: 'block', color: tokens.colorNeutralForeground3 },
  badges: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalXXS },
});

/** Containment as the devices' agents verified it, in words. */
export function containmentText(device: Pick<DeviceSummary, 'isolated' | 'app_restricted'>) {
  const parts = [];
  if (device.isolated) parts.push('Isolated');
  if (device.app_restricted) parts.push('App execution restricted');
  return parts.join('; ');
}

function timeText(value: string | null): string {
  const date = value === null ? null : parseApiTime(value);
  return date === null ? '' : formatUtcTime(date);
}

function useColumns(): DataColumn<DeviceSummary>[] {
  const styles = useStyles();
  return [
    {
      id: 'name',
      label: 'Name',
      width: '220px',
      alwaysVisible: true,
      sort: 'name',
      render: (device) => (
        <>
          <AppLink
            to={`/devices/${encodeURIComponent(device.id)}`}
            className={styles.name}
            tabIndex={-1}
          >
            {device.name}
          </AppLink>
          {device.fqdn !== null && device.fqdn !== device.name && (
            <Caption1 className={styles.secondary}>{device.fqdn}</Caption1>
          )}
        </>
      ),
      csv: (device) => device.name,
    },
    {
      id: 'domain',
      label: 'Domain',
      width: '120px',
      sort: 'domain',
      render: (device) => device.domain ?? <NotKnown>Unknown</NotKnown>,
      csv: (device) => device.domain ?? '',
    },
    {
      id: 'os',
      label: 'OS',
      width: '160px',
      sort: 'os',
      render: (device) => osLabel(device) ?? <NotKnown>Unknown</NotKnown>,
      csv: (device) => osLabel(device) ?? '',
    },
    {
      id: 'health',
      label: 'Health',
      width: '110px',
      render: (device) => <HealthBadge state={device.health_state} />,
      csv: (device) => healthLabel(device.health_state),
    },
    {
      id: 'risk',
      label: 'Risk',
      width: '130px',
      render: (device) => <LevelBadge level={device.risk_level} />,
      csv: (device) => levelLabel(device.risk_level),
    },
    {
      id: 'exposure',
      label: 'Exposure',
      width: '130px',
      render: (device) => <LevelBadge level={device.exposure_level} />,
      csv: (device) => levelLabel(device.exposure_level),
    },
    {
      id: 'containment',
      label: 'Containment',
      width: '150px',
      render: (device) =>
        device.isolated || device.app_restricted ? (
          <span className={styles.badges} data-testid="device-containment">
            {device.isolated && (
              <Badge color="danger" appearance="filled" shape="rounded">
                Isolated
              </Badge>
            )}
            {device.app_restricted && (
              <Badge color="warning" appearance="filled" shape="rounded">
                Apps restricted
              </Badge>
            )}
          </span>
        ) : (
          <NotKnown>None</NotKnown>
        ),
      csv: (device) => containmentText(device),
    },
    {
      id: 'tags',
      label: 'Tags',
      width: '200px',
      render: (device) => <TagList tags={device.tags} limit={3} size="extra-small" />,
      csv: (device) => device.tags.map((tag) => tag.name).join('; '),
    },
    {
      id: 'last_seen',
      label: 'Last seen',
      width: '120px',
      sort: 'last_seen',
      sortDescendingFirst: true,
      render: (device) => <DateTime value={device.last_seen} relative missing="Never" />,
      csv: (device) => timeText(device.last_seen),
    },
    {
      id: 'known_from',
      label: 'Known from',
      width: '180px',
      render: (device) => <KnownFromBadge knownFrom={device.known_from} />,
      csv: (device) => knownFromLabel(device.known_from),
    },
    {
      id: 'sources',
      label: 'Sources',
      defaultVisible: false,
      render: (device) => <SourceList sources={device.sources} />,
      csv: (device) => device.sources.map(sourceLabel).join('; '),
    },
    {
      id: 'ip_addresses',
      label: 'IP addresses',
      defaultVisible: false,
      render: (device) =>
        device.ip_addresses.length === 0 ? (
          <NotKnown>None reported</NotKnown>
        ) : (
          device.ip_addresses.join(', ')
        ),
      csv: (device) => device.ip_addresses.join('; '),
    },
    {
      id: 'first_seen',
      label: 'First seen',
      width: '130px',
      defaultVisible: false,
      sort: 'first_seen',
      sortDescendingFirst: true,
      render: (device) => <DateTime value={device.first_seen} relative missing="Never" />,
      csv: (device) => timeText(device.first_seen),
    },
  ];
}

/** Every device Hostwatch knows, from its agents, imported logs and the directory. */
export function DeviceListPage() {
  useDocumentTitle('Devices');
  const styles = useStyles();
  const navigate = useNavigate();
  const user = useCurrentUser();
  const columns = useColumns();
  const [state, update] = useTableState(DEVICE_TABLE);
  const [tagging, setTagging] = useState<DeviceSummary[] | null>(null);

  const query = deviceQuery(state);
  const [result, retry] = useApiQuery(
    (signal) => listDevices(query, signal),
    [
      JSON.stringify({ ...query, last_seen_after: null, last_seen_before: null }),
      state.filters['seen'],
    ],
  );

  const open = (device: DeviceSummary) =>
    void navigate(`/devices/${encodeURIComponent(device.id)}`);
  const canTag = roleAllows(user.role, 'analyst');

  return (
    <div className={styles.page}>
      <Title3 as="h1" className={styles.heading}>
        Devices
      </Title3>
      <DataTable
        tableId="devices"
        label="Devices"
        noun="devices"
        testId="device-table"
        columns={columns}
        state={state}
        onChange={update}
        result={result}
        onRetry={retry}
        rowKey={(device) => device.id}
        rowLabel={(device) => `Select ${device.name}`}
        onOpen={open}
        filters={<DeviceFilters filters={state.filters} onChange={update} />}
        empty={<EmptyDevices filtered={hasActiveFilters(state)} />}
        selectionActions={
          canTag
            ? (devices) => (
                <Button
                  icon={<TagMultipleRegular />}
                  onClick={() => setTagging(devices)}
                  data-testid="bulk-tag"
                >
                  Add or remove tags
                </Button>
              )
            : undefined
        }
      />
      {tagging !== null && (
        <BulkTagDialog devices={tagging} onClose={() => setTagging(null)} onChanged={retry} />
      )}
    </div>
  );
}
