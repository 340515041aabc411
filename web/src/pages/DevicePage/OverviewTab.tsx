import {
  Card,
  CardHeader,
  MessageBar,
  MessageBarBody,
  Subtitle2,
  makeStyles,
  tokens,
} from '@fluentui/react-components';

import { listDeviceAlerts } from '../../api/client';
import type { AgentInfo, DeviceDetail } from '../../api/types';
import { AppLink } from '../../components/AppLink/AppLink';
import { DateTime } from '../../components/DateTime/DateTime';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import type { Property } from '../../components/PropertyList/PropertyList';
import { useApiQuery } from '../../hooks/useApiQuery';
import { formatBytes, formatCount, formatPercent } from '../../lib/format';
import { osLabel, sourceLabel } from '../../lib/labels';
import { SeverityBadge } from './SeverityBadge';
import { NOT_COMPUTED, agentFactNote, softwareNote } from './deviceNotes';
import { ExposureWithDrivers, RiskWithReasons } from './SidebarSections';

const useStyles = makeStyles({
  grid: {
    display: 'grid',
    gridTemplateColumns: 'repeat(auto-fill, minmax(300px, 1fr))',
    gap: tokens.spacingHorizontalL,
    alignItems: 'start',
  },
  cardTitle: { margin: 0 },
  errors: { margin: 0, paddingLeft: tokens.spacingHorizontalL },
  alerts: {
    margin: 0,
    padding: 0,
    listStyleType: 'none',
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalS,
  },
  alert: {
    display: 'flex',
    gap: tokens.spacingHorizontalS,
    alignItems: 'center',
    overflowWrap: 'anywhere',
  },
});

const ACTIVE_SHOWN = 5;

function count(value: number | null | undefined, missing?: string) {
  return value == null ? <NotKnown>{missing}</NotKnown> : formatCount(value);
}

function bytes(value: number | null | undefined) {
  return value == null ? <NotKnown /> : formatBytes(value);
}

function AgentCard({ agent, device }: { agent: AgentInfo | null; device: DeviceDetail }) {
  const styles = useStyles();
  if (agent === null) {
    const sources = (device.sources ?? []).map(sourceLabel).join(' and ');
    return (
      <NotKnown>
        No agent on this device
        {sources === '' ? '' : `: it is known from ${sources.toLowerCase()} only`}
      </NotKnown>
    );
  }
  const status = agent.status;
  const errors = status?.errors ?? [];
  const items: Property[] = [
    { label: 'Version', value: agent.version ?? <NotKnown /> },
    { label: 'Enrolled', value: <DateTime value={agent.enrolled_at} /> },
    {
      label: 'Last heartbeat',
      value: <DateTime value={agent.last_heartbeat} relative missing="Never" />,
    },
  ];
  if (status !== null) {
    items.push(
      { label: 'Events waiting', value: count(status.spool_events) },
      { label: 'Spool size', value: bytes(status.spool_bytes) },
      { label: 'Events dropped', value: count(status.dropped_events) },
      {
        label: 'Agent CPU',
        value: status.cpu_percent == null ? <NotKnown /> : formatPercent(status.cpu_percent),
      },
      { label: 'Agent memory', value: bytes(status.rss_bytes) },
    );
  }
  return (
    <>
      {agent.revoked === true && (
        <MessageBar intent="error">
          <MessageBarBody>
            This agent's credential is revoked: the server refuses its reports.
          </MessageBarBody>
        </MessageBar>
      )}
      <PropertyList items={items} />
      {status === null && (
        <NotKnown>No status reported yet: the agent has not sent a heartbeat</NotKnown>
      )}
      {errors.length > 0 && (
        <MessageBar intent="warning" layout="multiline">
          <MessageBarBody>
            The agent reports {errors.length === 1 ? 'an error' : `${errors.length} errors`}:
            <ul className={styles.errors}>
              {errors.map((error, index) => (
                <li key={`${index}:${error}`}>{error}</li>
              ))}
            </ul>
          </MessageBarBody>
        </MessageBar>
      )}
    </>
  );
}

/** The most severe active alerts, each a link into the alerts tab's flyout. */
function ActiveAlerts({ device }: { device: DeviceDetail }) {
  const styles = useStyles();
  const [result, retry] = useApiQuery(
    (signal) =>
      listDeviceAlerts(
        device.id,
        { status: ['new', 'in_progress'], sort: '-severity', limit: ACTIVE_SHOWN },
        signal,
      ),
    [device.id, device.security.active_alerts],
  );
  if (result.status === 'loading') return <LoadingState label="Loading active alerts…" />;
  if (result.status === 'error') {
    return <ErrorState title="Could not load the alerts" error={result.error} onRetry={retry} />;
  }
  const page = result.data;
  if (page.items.length === 0) {
    return <NotKnown>No active alerts</NotKnown>;
  }
  return (
    <>
      <ul className={styles.alerts}>
        {page.items.map((alert) => (
          <li key={alert.id} className={styles.alert}>
            <SeverityBadge severity={alert.severity ?? ''} />
            <AppLink
              to={`/devices/${encodeURIComponent(device.id)}?tab=alerts&item=${encodeURIComponent(alert.id)}`}
            >
              {alert.title}
            </AppLink>
          </li>
        ))}
      </ul>
      {page.total > page.items.length && (
        <AppLink to={`/devices/${encodeURIComponent(device.id)}?tab=alerts&status=new`}>
          All {formatCount(page.total)} active alerts
        </AppLink>
      )}
    </>
  );
}

/** The Overview tab: a short summary of what the sidebar holds in full. */
export function OverviewTab({ device }: { device: DeviceDetail }) {
  const styles = useStyles();
  const details = device.details;
  const os = details === null ? null : osLabel(details);
  const inventory = device.inventory;
  const security = device.security;

  return (
    <div className={styles.grid}>
      <Card data-testid="overview-security">
        <CardHeader
          header={
            <Subtitle2 as="h2" className={styles.cardTitle}>
              Security
            </Subtitle2>
          }
        />
        <PropertyList
          items={[
            { label: 'Active alerts', value: count(security.active_alerts, NOT_COMPUTED) },
            { label: 'Open incidents', value: count(security.open_incidents, NOT_COMPUTED) },
            {
              label: 'Risk level',
              value: <RiskWithReasons security={security} />,
              testId: 'overview-risk',
            },
            {
              label: 'Exposure level',
              value: <ExposureWithDrivers security={security} />,
              testId: 'overview-exposure',
            },
          ]}
        />
      </Card>
      <Card data-testid="overview-alerts">
        <CardHeader
          header={
            <Subtitle2 as="h2" className={styles.cardTitle}>
              Active alerts
            </Subtitle2>
          }
        />
        <ActiveAlerts device={device} />
      </Card>
      <Card data-testid="overview-os">
        <CardHeader
          header={
            <Subtitle2 as="h2" className={styles.cardTitle}>
              Operating system
            </Subtitle2>
          }
        />
        <PropertyList
          items={[
            { label: 'OS', value: os ?? <NotKnown /> },
            {
              label: 'Kernel',
              value: details.os_kernel ?? <NotKnown>{agentFactNote(device)}</NotKnown>,
            },
            {
              label: 'Architecture',
              value: details.os_arch ?? <NotKnown>{agentFactNote(device)}</NotKnown>,
            },
          ]}
        />
      </Card>
      <Card data-testid="overview-inventory">
        <CardHeader
          header={
            <Subtitle2 as="h2" className={styles.cardTitle}>
              Software inventory
            </Subtitle2>
          }
        />
        {inventory.collected_at === null ? (
          <NotKnown>{softwareNote(device)}</NotKnown>
        ) : (
          <PropertyList
            items={[
              { label: 'Software items', value: count(inventory.software_count) },
              { label: 'Collected', value: <DateTime value={inventory.collected_at} /> },
            ]}
          />
        )}
      </Card>
      <Card data-testid="overview-agent">
        <CardHeader
          header={
            <Subtitle2 as="h2" className={styles.cardTitle}>
              Agent
            </Subtitle2>
          }
        />
        <AgentCard agent={device.agent} device={device} />
      </Card>
    </div>
  );
}
