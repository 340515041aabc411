// The contents of the machine profile's sidebar sections. Each says why when it has
// nothing to show, rather than leaving a blank or a zero.
import { Badge, Caption1, makeStyles, tokens } from '@fluentui/react-components';
import type { ReactNode } from 'react';

import type {
  DeviceDetail,
  DeviceDetails,
  DirectoryData,
  LoggedOnUser,
  NetworkActivity,
  Resources,
  SecurityInfo,
  Tag,
} from '../../api/types';
import { DateTime } from '../../components/DateTime/DateTime';
import { HealthBadge } from '../../components/HealthBadge/HealthBadge';
import { LevelBadge } from '../../components/LevelBadge/LevelBadge';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import type { Property } from '../../components/PropertyList/PropertyList';
import { TagList } from '../../components/TagList/TagList';
import { formatBytes, formatCount } from '../../lib/format';
import { SEVERITIES, severityLabel } from '../../lib/alertLabels';
import { logonTypeLabel, osLabel } from '../../lib/labels';
import {
  NOT_COMPUTED,
  agentFactNote,
  directoryNote,
  noAgentExplanation,
  usersNote,
} from './deviceNotes';
import { driverText, exposureSummary } from './recommendationText';

const useStyles = makeStyles({
  group: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS },
  groups: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  plainList: { margin: 0, padding: 0, listStyleType: 'none' },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
  badges: {
    display: 'flex',
    flexWrap: 'wrap',
    gap: tokens.spacingHorizontalXS,
    margin: 0,
    padding: 0,
    listStyleType: 'none',
  },
  reasons: { margin: `${tokens.spacingVerticalXS} 0 0`, paddingLeft: tokens.spacingHorizontalL },
  users: {
    margin: 0,
    padding: 0,
    listStyleType: 'none',
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalS,
  },
  userName: { fontWeight: tokens.fontWeightSemibold, overflowWrap: 'anywhere' },
  muted: { color: tokens.colorNeutralForeground3 },
});

/** A value, or why it is missing ("Not known yet" unless told). */
function known(value: string | number | null | undefined, missing?: string): ReactNode {
  if (value == null || value === '') {
    return <NotKnown>{missing}</NotKnown>;
  }
  return typeof value === 'number' ? formatCount(value) : value;
}

interface TextListProps {
  values: string[] | null;
  mono?: boolean;
  /** Why the list is empty. */
  empty?: string;
}

function TextList({ values, mono = false, empty = 'None reported' }: TextListProps) {
  const styles = useStyles();
  if (values === null) {
    return <NotKnown />;
  }
  if (values.length === 0) {
    return <NotKnown>{empty}</NotKnown>;
  }
  return (
    <ul className={styles.plainList}>
      {values.map((value, index) => (
        <li key={`${index}:${value}`} className={mono ? styles.mono : undefined}>
          {value}
        </li>
      ))}
    </ul>
  );
}

export function TagsSection({ tags }: { tags: Tag[] | null }) {
  const styles = useStyles();
  if (tags === null) {
    return <NotKnown />;
  }
  if (tags.length === 0) {
    return <NotKnown>No tags on this device</NotKnown>;
  }
  const systemTags = tags.filter((tag) => tag.kind === 'system');
  const userTags = tags.filter((tag) => tag.kind !== 'system');
  return (
    <div className={styles.groups}>
      {systemTags.length > 0 && (
        <div className={styles.group}>
          <Caption1 className={styles.muted}>System tags</Caption1>
          <TagList tags={systemTags} />
        </div>
      )}
      {userTags.length > 0 && (
        <div className={styles.group}>
          <Caption1 className={styles.muted}>User tags</Caption1>
          <TagList tags={userTags} />
        </div>
      )}
    </div>
  );
}

/** "2 high, 1 low": the active alerts by severity, most severe first; none left out. */
export function severityCounts(bySeverity: Record<string, number>): string {
  return SEVERITIES.filter((severity) => (bySeverity[severity] ?? 0) > 0)
    .map(
      (severity) =>
        `${formatCount(bySeverity[severity] ?? 0)} ${severityLabel(severity).toLowerCase()}`,
    )
    .join(', ');
}

/** The risk level, with the alerts that set it. */
export function RiskWithReasons({ security }: { security: SecurityInfo }) {
  const styles = useStyles();
  return (
    <div className={styles.group}>
      <span>
        <LevelBadge level={security.risk_level} />
      </span>
      {security.risk_reasons.length > 0 && (
        <ul className={styles.reasons} data-testid="risk-reasons">
          {security.risk_reasons.map((reason) => (
            <li key={reason.alert_id}>
              {severityLabel(reason.severity)} alert: {reason.title}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * The exposure level with its score, and the findings that drive it behind a disclosure,
 * so the number explains itself without crowding the sidebar.
 */
export function ExposureWithDrivers({ security }: { security: SecurityInfo }) {
  const styles = useStyles();
  const info = security.exposure;
  return (
    <div className={styles.group}>
      <span>
        <LevelBadge level={security.exposure_level} />
        {security.exposure_score != null && (
          <>
            {' '}
            <span data-testid="exposure-score">{security.exposure_score} / 100</span>
          </>
        )}
      </span>
      {info != null && (
        <details data-testid="exposure-drivers">
          <summary>{exposureSummary(info)}</summary>
          {info.drivers.length === 0 ? (
            <NotKnown>No open vulnerability findings</NotKnown>
          ) : (
            <ul className={styles.reasons}>
              {info.drivers.map((driver) => (
                <li key={`${driver.vulnerability}:${driver.software}:${driver.version}`}>
                  {driverText(driver)}
                </li>
              ))}
            </ul>
          )}
        </details>
      )}
    </div>
  );
}

export function SecuritySection({ security }: { security: SecurityInfo }) {
  const counts = severityCounts(security.active_alerts_by_severity);
  return (
    <PropertyList
      items={[
        {
          label: 'Open incidents',
          value: known(security.open_incidents, NOT_COMPUTED),
          testId: 'security-incidents',
        },
        {
          label: 'Active alerts',
          value:
            security.active_alerts == null ? (
              <NotKnown>{NOT_COMPUTED}</NotKnown>
            ) : (
              `${formatCount(security.active_alerts)}${counts === '' ? '' : ` (${counts})`}`
            ),
          testId: 'security-alerts',
        },
        {
          label: 'Risk level',
          value: <RiskWithReasons security={security} />,
          testId: 'security-risk',
        },
        {
          label: 'Exposure level',
          value: <ExposureWithDrivers security={security} />,
          testId: 'security-exposure',
        },
      ]}
    />
  );
}

function cpuText(resources: Resources, missing: string): ReactNode {
  const { cpu_count: count, cpu_model: model } = resources;
  if (count === null && (model === null || model === '')) {
    return <NotKnown>{missing}</NotKnown>;
  }
  if (count === null) return model;
  const cores = `${formatCount(count)} ${count === 1 ? 'core' : 'cores'}`;
  return model === null || model === '' ? cores : `${cores}, ${model}`;
}

function diskText(resources: Resources, missing: string): ReactNode {
  const { disk_total_bytes: total, disk_free_bytes: free } = resources;
  if (total === null && free === null) return <NotKnown>{missing}</NotKnown>;
  if (total === null) return `${formatBytes(free ?? 0)} free`;
  if (free === null) return `${formatBytes(total)} in all`;
  return `${formatBytes(free)} free of ${formatBytes(total)}`;
}

function HealthValue({ details }: { details: DeviceDetails }) {
  const styles = useStyles();
  const reasons = details.health_reasons ?? [];
  return (
    <>
      <HealthBadge state={details.health_state} />
      {reasons.length > 0 && (
        <ul className={styles.reasons} aria-label="Health reasons">
          {reasons.map((reason, index) => (
            <li key={`${index}:${reason}`}>{reason}</li>
          ))}
        </ul>
      )}
    </>
  );
}

export function DetailsSection({ device }: { device: DeviceDetail }) {
  const styles = useStyles();
  const details = device.details;
  const fromDirectory = device.sources.includes('directory');
  const hasAgent = device.agent !== null;
  // Facts only an agent reports say why they are missing when there is none.
  const agentOnly = agentFactNote(device);
  const os = osLabel(details);
  const osText = os === null ? null : details.os_arch ? `${os} (${details.os_arch})` : os;
  const resources = details.resources;
  const noneFound = hasAgent ? 'None reported' : agentOnly;

  const items: Property[] = [
    { label: 'Hostname', value: known(details.hostname), testId: 'detail-hostname' },
    { label: 'FQDN', value: known(details.fqdn), testId: 'detail-fqdn' },
    { label: 'Domain', value: known(details.domain), testId: 'detail-domain' },
    { label: 'OS', value: known(osText), testId: 'detail-os' },
    { label: 'Kernel', value: known(details.os_kernel, agentOnly), testId: 'detail-kernel' },
    {
      label: 'IP addresses',
      value: <TextList values={details.ip_addresses} mono empty={noneFound} />,
      testId: 'detail-ips',
    },
    {
      label: 'MAC addresses',
      value: <TextList values={details.mac_addresses} mono empty={noneFound} />,
    },
    { label: 'CPU', value: cpuText(resources, agentOnly), testId: 'detail-cpu' },
    {
      label: 'Memory',
      value:
        resources.memory_bytes === null ? (
          <NotKnown>{agentOnly}</NotKnown>
        ) : (
          formatBytes(resources.memory_bytes)
        ),
      testId: 'detail-memory',
    },
    { label: 'Disk', value: diskText(resources, agentOnly) },
    { label: 'Health state', value: <HealthValue details={details} /> },
    { label: 'Boot time', value: <DateTime value={details.boot_time} missing={agentOnly} /> },
    { label: 'Machine id', value: known(details.machine_id, agentOnly) },
  ];
  if (fromDirectory || details.sam_name !== null) {
    items.push({ label: 'SAM name', value: known(details.sam_name), testId: 'detail-sam' });
  }
  if (fromDirectory || details.directory_created !== null) {
    items.push({
      label: 'Created in directory',
      value: <DateTime value={details.directory_created} />,
      testId: 'detail-directory-created',
    });
  }
  if (hasAgent) {
    items.push({ label: 'Agent version', value: known(details.agent_version) });
  }
  const explanation = noAgentExplanation(device);
  return (
    <div className={styles.groups}>
      {explanation !== null && (
        <Caption1 className={styles.muted} data-testid="details-no-agent">
          {explanation}
        </Caption1>
      )}
      <PropertyList items={items} />
    </div>
  );
}

export function NetworkSection({ activity }: { activity: NetworkActivity }) {
  return (
    <PropertyList
      items={[
        {
          label: 'First seen',
          value: <DateTime value={activity.first_seen} missing="Not seen yet" />,
          testId: 'network-first-seen',
        },
        {
          label: 'Last seen',
          value: <DateTime value={activity.last_seen} missing="Not seen yet" />,
          testId: 'network-last-seen',
        },
      ]}
    />
  );
}

function BadgeList({ values }: { values: string[] | null }) {
  const styles = useStyles();
  if (values === null) return <NotKnown />;
  if (values.length === 0) return <NotKnown>None</NotKnown>;
  return (
    <ul className={styles.badges}>
      {values.map((value, index) => (
        <li key={`${index}:${value}`}>
          <Badge appearance="outline" color="informative" shape="rounded">
            {value}
          </Badge>
        </li>
      ))}
    </ul>
  );
}

export function DirectorySection({ device }: { device: DeviceDetail }) {
  const styles = useStyles();
  const directory: DirectoryData | null = device.directory;
  if (directory === null) {
    return <NotKnown>{directoryNote(device)}</NotKnown>;
  }
  return (
    <PropertyList
      items={[
        {
          label: 'Distinguished name',
          value:
            directory.distinguished_name === null ? (
              <NotKnown />
            ) : (
              <span className={styles.mono}>{directory.distinguished_name}</span>
            ),
        },
        {
          label: 'UAC flags',
          value: <BadgeList values={directory.uac_flags} />,
          testId: 'directory-uac',
        },
        {
          label: 'SPNs',
          value: <TextList values={directory.spns} mono empty="None" />,
          testId: 'directory-spns',
        },
        {
          label: 'Groups',
          value: <TextList values={directory.groups} empty="None" />,
          testId: 'directory-groups',
        },
      ]}
    />
  );
}

function userDetails(user: LoggedOnUser): ReactNode[] {
  const parts: ReactNode[] = [];
  if (user.terminal) parts.push(`on ${user.terminal}`);
  if (user.host) parts.push(`from ${user.host}`);
  if (user.started) {
    parts.push(
      <>
        since <DateTime value={user.started} />
      </>,
    );
  }
  if (user.logon_type !== null) parts.push(logonTypeLabel(user.logon_type));
  if (user.source) parts.push(`reported by ${user.source}`);
  return parts;
}

export function UsersSection({ device }: { device: DeviceDetail }) {
  const styles = useStyles();
  const users = device.logged_on_users;
  if (users === null || users.length === 0) {
    return <NotKnown>{usersNote(device)}</NotKnown>;
  }
  return (
    <ul className={styles.users}>
      {users.map((user, index) => {
        const parts = userDetails(user);
        return (
          <li key={`${index}:${user.name}`}>
            <div className={styles.userName}>{user.name}</div>
            {parts.length > 0 && (
              <Caption1 className={styles.muted}>
                {parts.map((part, partIndex) => (
                  <span key={partIndex}>
                    {partIndex > 0 && ', '}
                    {part}
                  </span>
                ))}
              </Caption1>
            )}
          </li>
        );
      })}
    </ul>
  );
}
