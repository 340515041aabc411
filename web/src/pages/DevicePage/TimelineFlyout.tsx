import {
  Caption1,
  MessageBar,
  MessageBarBody,
  Subtitle2,
  makeStyles,
  tokens,
} from '@fluentui/react-components';

import { getEvent, getProcessTree } from '../../api/client';
import type { EventDetail } from '../../api/types';
import { DateTime } from '../../components/DateTime/DateTime';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { Flyout } from '../../components/Flyout/Flyout';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { ProcessTree } from '../../components/ProcessTree/ProcessTree';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import { useApiQuery } from '../../hooks/useApiQuery';
import type { QueryState } from '../../hooks/useApiQuery';
import { formatCount, formatUtcTime, parseApiTime } from '../../lib/format';
import { fieldLines } from './eventFields';
import { targetText } from './eventText';

const useStyles = makeStyles({
  body: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL },
  section: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
  heading: { margin: 0 },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
  muted: { color: tokens.colorNeutralForeground3 },
});

function Mono({ value }: { value: string | number | null | undefined }) {
  const styles = useStyles();
  if (value == null || value === '') return <NotKnown>None</NotKnown>;
  return <span className={styles.mono}>{value}</span>;
}

function Summary({ event }: { event: EventDetail }) {
  const target = targetText(event.target);
  return (
    <PropertyList
      items={[
        { label: 'Time', value: <DateTime value={event.time} />, testId: 'event-time' },
        { label: 'Kind', value: event.kind, testId: 'event-kind' },
        { label: 'Action type', value: event.action_type ?? <NotKnown>None</NotKnown> },
        { label: 'User', value: event.user ?? <NotKnown>None</NotKnown>, testId: 'event-user' },
        {
          label: 'Source',
          value: [event.source, event.event_code && `event ${event.event_code}`]
            .filter(Boolean)
            .join(', '),
        },
        { label: 'Image', value: <Mono value={event.process?.image} />, testId: 'event-image' },
        {
          label: 'Command line',
          value: <Mono value={event.process?.command_line} />,
          testId: 'event-command-line',
        },
        { label: 'Process id', value: <Mono value={event.process?.pid} /> },
        {
          label: 'Parent image',
          value: <Mono value={event.parent?.image} />,
          testId: 'event-parent-image',
        },
        { label: 'Parent command line', value: <Mono value={event.parent?.command_line} /> },
        { label: 'Target', value: <Mono value={target} />, testId: 'event-target' },
      ]}
    />
  );
}

function OriginalFields({ fields }: { fields: Record<string, unknown> }) {
  const styles = useStyles();
  const [lines, cut] = fieldLines(fields);
  if (lines.length === 0) {
    return <Caption1 className={styles.muted}>The source record kept no fields.</Caption1>;
  }
  return (
    <>
      <PropertyList
        items={lines.map((line) => ({
          label: line.key,
          value: <span className={styles.mono}>{line.value}</span>,
          testId: `field-${line.key}`,
        }))}
      />
      {cut > 0 && (
        <Caption1 className={styles.muted}>{formatCount(cut)} more fields are not shown.</Caption1>
      )}
    </>
  );
}

function TreeSection({ eventId }: { eventId: string }) {
  const [result, retry] = useApiQuery((signal) => getProcessTree(eventId, signal), [eventId]);
  if (result.status === 'loading') return <LoadingState label="Loading the process tree…" />;
  if (result.status === 'error') {
    return (
      <ErrorState title="Could not load the process tree" error={result.error} onRetry={retry} />
    );
  }
  return <ProcessTree key={eventId} tree={result.data} />;
}

function eventTitle(event: EventDetail): string {
  const date = parseApiTime(event.time);
  const what = event.action_type ?? event.kind;
  return date === null ? what : `${what} at ${formatUtcTime(date)}`;
}

interface EventBodyProps {
  eventId: string;
  deviceId: string;
  result: QueryState<EventDetail | null>;
  onRetry: () => void;
}

function EventBody({ eventId, deviceId, result, onRetry }: EventBodyProps) {
  const styles = useStyles();
  if (result.status === 'loading') return <LoadingState label="Loading the event…" />;
  if (result.status === 'error') {
    return <ErrorState title="Could not load this event" error={result.error} onRetry={onRetry} />;
  }
  const event = result.data;
  if (event === null) return null;
  return (
    <div className={styles.body} data-testid="event-flyout">
      {event.device_id !== deviceId && (
        <MessageBar intent="warning">
          <MessageBarBody>This event was recorded on another device.</MessageBarBody>
        </MessageBar>
      )}
      <Summary event={event} />
      <section className={styles.section} aria-labelledby={`tree-${eventId}`}>
        <Subtitle2 as="h3" id={`tree-${eventId}`} className={styles.heading}>
          Process tree
        </Subtitle2>
        <TreeSection eventId={eventId} />
      </section>
      <section
        className={styles.section}
        aria-labelledby={`fields-${eventId}`}
        data-testid="event-fields"
      >
        <Subtitle2 as="h3" id={`fields-${eventId}`} className={styles.heading}>
          Original fields
        </Subtitle2>
        <OriginalFields fields={event.fields} />
      </section>
    </div>
  );
}

interface TimelineFlyoutProps {
  deviceId: string;
  eventId: string | null;
  onClose: () => void;
}

/** One event: what it was, its process tree, and the original record's fields. */
export function TimelineFlyout({ deviceId, eventId, onClose }: TimelineFlyoutProps) {
  const [result, retry] = useApiQuery(
    (signal) => (eventId === null ? Promise.resolve(null) : getEvent(eventId, signal)),
    [eventId],
  );
  const title = result.status === 'ok' && result.data !== null ? eventTitle(result.data) : 'Event';
  return (
    <Flyout open={eventId !== null} size="large" title={title} onClose={onClose}>
      {eventId !== null && (
        <EventBody eventId={eventId} deviceId={deviceId} result={result} onRetry={retry} />
      )}
    </Flyout>
  );
}
