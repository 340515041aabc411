import {
  Accordion,
  AccordionHeader,
  AccordionItem,
  AccordionPanel,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import type { ReactNode } from 'react';

import type { DeviceDetail } from '../../api/types';
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

interface Section {
  value: string;
  title: string;
  content: ReactNode;
}

function sectionsOf(device: DeviceDetail): Section[] {
  const userCount = device.logged_on_users?.length;
  return [
    { value: 'tags', title: 'Tags', content: <TagsSection tags={device.tags} /> },
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
