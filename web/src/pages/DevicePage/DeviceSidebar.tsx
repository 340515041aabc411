import {
  Accordion,
  AccordionHeader,
  AccordionItem,
  AccordionPanel,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import type { ReactNode } from 'react';

import type { AgentStatus, DeviceDetail } from '../../api/types';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import type { Property } from '../../components/PropertyList/PropertyList';
import { formatBytes, formatCount } from '../../lib/format';
import { ContainmentSection } from './ContainmentSection';
import {
  DetailsSection,
  DirectorySection,
  NetworkSection,
  SecuritySection,
  TagsSection,
  UsersSection,
} from './SidebarSections';

const useStyles = makeStyles({
  root: {
    backgroundColor: tokens.colorNeutralBackground1,
    border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  item: {
    borderBottom: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
    ':last-child': { borderBottom: 'none' },
  },
  panel: { paddingBottom: tokens.spacingVerticalM },
});

const PROCESS_SOURCE_LABELS: Record<string, string> = {
  audit: 'Kernel audit (every start)',
  poll: 'Polling /proc (misses short-lived processes)',
};

/** What the agent's last heartbeat says about its own cost and the telemetry it lost. */
export function agentTelemetryItems(status: AgentStatus): Property[] {
  const source = status.process_source;
  const count = (value: number | null | undefined) =>
    value == null ? <NotKnown>Not reported</NotKnown> : formatCount(value);
  return [
    {
      label: 'Process events',
      value: source ? (PROCESS_SOURCE_LABELS[source] ?? source) : <NotKnown>Not reported</NotKnown>,
      testId: 'agent-process-source',
    },
    {
      label: 'Agent CPU',
      value:
        status.cpu_percent == null ? (
          <NotKnown>Not reported</NotKnown>
        ) : (
          `${status.cpu_percent.toFixed(1)}% of one core`
        ),
    },
    {
      label: 'Agent memory',
      value:
        status.rss_bytes == null ? (
          <NotKnown>Not reported</NotKnown>
        ) : (
          formatBytes(status.rss_bytes)
        ),
    },
    {
      label: 'Spooled',
      value: `${formatCount(status.spool_events ?? 0)} events (${formatBytes(status.spool_bytes ?? 0)})`,
    },
    {
      label: 'Dropped (spool full)',
      value: count(status.dropped_events),
      testId: 'agent-dropped',
    },
    {
      label: 'Dropped by collector',
      value: count(status.collector_dropped_events),
      testId: 'agent-collector-dropped',
    },
    {
      label: 'Lost by the kernel',
      value: count(status.kernel_lost_events),
      testId: 'agent-kernel-lost',
    },
    {
      label: 'Summarized (rate limit)',
      value: count(status.summarized_events),
      testId: 'agent-summarized',
    },
  ];
}

function AgentTelemetrySection({ device }: { device: DeviceDetail }) {
  const status = device.agent?.status ?? null;
  if (status === null) {
    return <NotKnown>No heartbeat received yet</NotKnown>;
  }
  return <PropertyList items={agentTelemetryItems(status)} />;
}

interface Section {
  value: string;
  title: string;
  content: ReactNode;
}

function sectionsOf(device: DeviceDetail): Section[] {
  const userCount = device.logged_on_users?.length;
  const agentSection: Section[] =
    device.agent === null
      ? []
      : [
          {
            value: 'agent',
            title: 'Agent telemetry',
            content: <AgentTelemetrySection device={device} />,
          },
        ];
  const containmentSection: Section[] =
    device.agent === null
      ? []
      : [
          {
            value: 'containment',
            title: 'Containment',
            content: <ContainmentSection containment={device.containment} />,
          },
        ];
  return [
    { value: 'tags', title: 'Tags', content: <TagsSection tags={device.tags} /> },
    ...containmentSection,
    {
      value: 'security',
      title: 'Security info',
      content: <SecuritySection security={device.security} />,
    },
    {
      value: 'details',
      title: 'Device details',
      content: <DetailsSection device={device} />,
    },
    {
      value: 'network',
      title: 'Network activity',
      content: <NetworkSection activity={device.network_activity} />,
    },
    {
      value: 'directory',
      title: 'Directory data',
      content: <DirectorySection device={device} />,
    },
    {
      value: 'users',
      title: userCount ? `Logged-on users (${userCount})` : 'Logged-on users',
      content: <UsersSection device={device} />,
    },
    ...agentSection,
  ];
}

/** The machine profile's left column: collapsible sections, all open at first. */
export function DeviceSidebar({ device }: { device: DeviceDetail }) {
  const styles = useStyles();
  const sections = sectionsOf(device);
  return (
    <aside aria-label="Device information">
      <Accordion
        multiple
        collapsible
        defaultOpenItems={sections.map((section) => section.value)}
        className={styles.root}
      >
        {sections.map((section) => (
          <AccordionItem
            key={section.value}
            value={section.value}
            className={styles.item}
            data-testid={`sidebar-${section.value}`}
          >
            <AccordionHeader as="h2" size="medium" expandIconPosition="end">
              {section.title}
            </AccordionHeader>
            <AccordionPanel className={styles.panel}>{section.content}</AccordionPanel>
          </AccordionItem>
        ))}
      </Accordion>
    </aside>
  );
}
