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
import { osLabel } from '../../lib/labels';

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

/** A value, or "Not known yet" when the server does not know it. */
function known(value: string | number | null | undefined): ReactNode {
  if (value == null || value === '') {
    return <NotKnown />;
  }
  return typeof value === 'number' ? formatCount(value) : value;
}

function TextList({ values, mono = false }: { values: string[] | null; mono?: boolean }) {
  const styles = useStyles();
  if (values === null) {
    return <NotKnown />;
  }
  if (values.length === 0) {
    return <NotKnown>None reported</NotKnown>;
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

export function SecuritySection({ security }: { security: SecurityInfo | null }) {
  if (security === null) {
    return <NotKnown>Not known yet: this device has not been assessed</NotKnown>;
  }
  return (
    <PropertyList
      items={[
        { label: 'Open incidents', value: known(security.open_incidents) },
        { label: 'Active alerts', value: known(security.active_alerts) },
        { label: 'Risk level', value: <LevelBadge level={security.risk_level} /> },
        { label: 'Exposure level', value: <LevelBadge level={security.exposure_level} /> },
      ]}
    />
  );
}

function cpuText(resources: Resources): ReactNode {
  const { cpu_count: count, cpu_model: model } = resources;
  if (count === null && (model === null || model === '')) {
    return <NotKnown />;
  }
  if (count === null) return model;
  const cores = `${formatCount(count)} ${count === 1 ? 'core' : 'cores'}`;
  return model === null || model === '' ? cores : `${cores}, ${model}`;
}

function diskText(resources: Resources): ReactNode {
  const { disk_total_bytes: total, disk_free_bytes: free } = resources;
  if (total === null && free === null) return <NotKnown />;
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

interface DetailsSectionProps {
  details: DeviceDetails | null;
  sources: DeviceDetail['sources'];
}

export function DetailsSection({ details, sources }: DetailsSectionProps) {
  if (details === null) {
    return <NotKnown>Not known yet: no source has described this device</NotKnown>;
  }
  const fromDirectory = sources?.includes('directory') ?? false;
  const fromAgent = sources?.includes('agent') ?? false;
  const os = osLabel(details);
  const osText = os === null ? null : details.os_arch ? `${os} (${details.os_arch})` : os;
  const resources = details.resources;

  const items: Property[] = [
    { label: 'Hostname', value: known(details.hostname), testId: 'detail-hostname' },
    { label: 'FQDN', value: known(details.fqdn) },
    { label: 'Domain', value: known(details.domain) },
    { label: 'OS', value: known(osText), testId: 'detail-os' },
    { label: 'Kernel', value: known(details.os_kernel) },
    {
      label: 'IP addresses',
      value: <TextList values={details.ip_addresses} mono />,
      testId: 'detail-ips',
    },
    { label: 'MAC addresses', value: <TextList values={details.mac_addresses} mono /> },
    { label: 'CPU', value: resources === null ? <NotKnown /> : cpuText(resources) },
    {
      label: 'Memory',
      value: resources?.memory_bytes == null ? <NotKnown /> : formatBytes(resources.memory_bytes),
    },
    { label: 'Disk', value: resources === null ? <NotKnown /> : diskText(resources) },
    { label: 'Health state', value: <HealthValue details={details} /> },
    { label: 'Boot time', value: <DateTime value={details.boot_time} /> },
    { label: 'Machine id', value: known(details.machine_id) },
  ];
  if (fromDirectory || details.sam_name !== null) {
    items.push({ label: 'SAM name', value: known(details.sam_name) });
  }
  if (fromDirectory || details.directory_created !== null) {
    items.push({
      label: 'Created in directory',
      value: <DateTime value={details.directory_created} />,
    });
  }
  if (fromAgent || details.agent_version !== null) {
    items.push({ label: 'Agent version', value: known(details.agent_version) });
  }
  return <PropertyList items={items} />;
}

export function NetworkSection({ activity }: { activity: NetworkActivity | null }) {
  if (activity === null) {
    return <NotKnown>Not known yet: no network activity has been recorded</NotKnown>;
  }
  return (
    <PropertyList
      items={[
        { label: 'First seen', value: <DateTime value={activity.first_seen} /> },
        { label: 'Last seen', value: <DateTime value={activity.last_seen} /> },
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

export function DirectorySection({ directory }: { directory: DirectoryData | null }) {
  const styles = useStyles();
  if (directory === null) {
    return <NotKnown>No directory data: this device is not known from the directory</NotKnown>;
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
        { label: 'UAC flags', value: <BadgeList values={directory.uac_flags} /> },
        { label: 'SPNs', value: <TextList values={directory.spns} mono /> },
        { label: 'Groups', value: <TextList values={directory.groups} /> },
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
  if (user.source) parts.push(`reported by ${user.source}`);
  return parts;
}

interface UsersSectionProps {
  users: LoggedOnUser[] | null;
  /** Whether the device has sent an inventory, which is what carries its sessions. */
  inventoryCollected: boolean;
}

export function UsersSection({ users, inventoryCollected }: UsersSectionProps) {
  const styles = useStyles();
  if (users === null || (users.length === 0 && !inventoryCollected)) {
    return <NotKnown>Not known yet: the device has not sent an inventory</NotKnown>;
  }
  if (users.length === 0) {
    return <NotKnown>No logged-on users reported: the device keeps no session records</NotKnown>;
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
