import { Caption1, makeStyles, tokens } from '@fluentui/react-components';

import type { TimelineItem } from '../../api/types';
import type { DataColumn } from '../../components/DataTable/DataTable';
import { DateTime } from '../../components/DateTime/DateTime';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { entitiesText, imageName, targetText, timeText } from './eventText';

const useStyles = makeStyles({
  secondary: { display: 'block', color: tokens.colorNeutralForeground3 },
  entity: { display: 'block', minWidth: 0 },
  image: { fontWeight: tokens.fontWeightSemibold },
  parent: { display: 'block', color: tokens.colorNeutralForeground3 },
  command: {
    display: 'block',
    fontFamily: tokens.fontFamilyMonospace,
    fontSize: tokens.fontSizeBase200,
    color: tokens.colorNeutralForeground2,
    // One line of the command line; the whole of it is in the tooltip and the flyout.
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    whiteSpace: 'nowrap',
  },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
});

function Entities({ item }: { item: TimelineItem }) {
  const styles = useStyles();
  const process = item.process;
  const parent = item.parent;
  if (process == null && parent == null) return <NotKnown>No process</NotKnown>;
  const name = imageName(process?.image) ?? (process?.pid != null ? `pid ${process.pid}` : null);
  const parentName = imageName(parent?.image) ?? (parent?.pid != null ? `pid ${parent.pid}` : null);
  return (
    <span className={styles.entity} data-testid="event-entities">
      {name !== null && (
        <span className={styles.image} title={process?.image ?? undefined}>
          {name}
        </span>
      )}
      {process?.command_line && (
        <span className={styles.command} title={process.command_line}>
          {process.command_line}
        </span>
      )}
      {parentName !== null && (
        <span className={styles.parent} title={parent?.command_line ?? parent?.image ?? undefined}>
          parent: {parentName}
        </span>
      )}
    </span>
  );
}

export function useTimelineColumns(): DataColumn<TimelineItem>[] {
  const styles = useStyles();
  return [
    {
      id: 'time',
      label: 'Event time',
      width: '175px',
      sort: 'time',
      sortDescendingFirst: true,
      alwaysVisible: true,
      render: (item) => <DateTime value={item.time} />,
      csv: (item) => timeText(item.time),
    },
    {
      id: 'user',
      label: 'User',
      width: '150px',
      render: (item) => item.user ?? <NotKnown>None</NotKnown>,
      csv: (item) => item.user ?? '',
    },
    {
      id: 'action_type',
      label: 'Action type',
      width: '150px',
      render: (item) => (
        <>
          {item.action_type ?? item.kind}
          {item.action_type != null && (
            <Caption1 className={styles.secondary}>{item.kind}</Caption1>
          )}
        </>
      ),
      csv: (item) => item.action_type ?? item.kind ?? '',
    },
    {
      id: 'entities',
      label: 'Entities',
      render: (item) => <Entities item={item} />,
      csv: entitiesText,
    },
    {
      id: 'additional',
      label: 'Additional information',
      width: '220px',
      render: (item) => {
        const text = targetText(item.target);
        return text === '' ? (
          <NotKnown>None</NotKnown>
        ) : (
          <span className={styles.mono} title={text}>
            {text}
          </span>
        );
      },
      csv: (item) => targetText(item.target),
    },
    {
      id: 'kind',
      label: 'Kind',
      width: '120px',
      defaultVisible: false,
      render: (item) => item.kind,
      csv: (item) => item.kind ?? '',
    },
    {
      id: 'source',
      label: 'Source and event id',
      width: '170px',
      defaultVisible: false,
      render: (item) => [item.source, item.event_code].filter(Boolean).join(' · '),
      csv: (item) => [item.source, item.event_code].filter(Boolean).join(' '),
    },
    {
      id: 'process_id',
      label: 'Process id',
      width: '110px',
      defaultVisible: false,
      render: (item) => item.process?.pid ?? <NotKnown>None</NotKnown>,
      csv: (item) => (item.process?.pid == null ? '' : String(item.process.pid)),
    },
    {
      id: 'sha256',
      label: 'SHA-256',
      width: '220px',
      defaultVisible: false,
      render: (item) =>
        item.process?.sha256 ? (
          <span className={styles.mono}>{item.process.sha256}</span>
        ) : (
          <NotKnown>None</NotKnown>
        ),
      csv: (item) => item.process?.sha256 ?? '',
    },
  ];
}
