import {
  Button,
  Caption1,
  Field,
  Input,
  Link,
  MessageBar,
  MessageBarBody,
  Select,
  Subtitle2,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useId, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';

import { getAlert, getProcessTree, patchAlert } from '../../api/client';
import type { AlertDetail, AlertPatch } from '../../api/types';
import { DateTime } from '../../components/DateTime/DateTime';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { Flyout } from '../../components/Flyout/Flyout';
import { FlyoutLink } from '../../components/FlyoutLink/FlyoutLink';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { ProcessTree } from '../../components/ProcessTree/ProcessTree';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import { roleAllows } from '../../components/ResponseActionsBar/responseActions';
import { useCurrentUser } from '../../components/SessionProvider/SessionProvider';
import { useApiQuery } from '../../hooks/useApiQuery';
import {
  ALERT_STATUSES,
  CLASSIFICATIONS,
  DETERMINATIONS,
  alertStatusLabel,
  classificationLabel,
  determinationLabel,
  safeLink,
} from '../../lib/alertLabels';
import { formatCount } from '../../lib/format';
import { SeverityBadge } from './SeverityBadge';
import { targetText } from './eventText';

const useStyles = makeStyles({
  body: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL },
  section: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
  heading: { margin: 0 },
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
  muted: { color: tokens.colorNeutralForeground3 },
  list: { margin: 0, paddingLeft: tokens.spacingHorizontalL, overflowWrap: 'anywhere' },
  form: {
    display: 'grid',
    gridTemplateColumns: 'repeat(auto-fill, minmax(180px, 1fr))',
    gap: tokens.spacingHorizontalM,
    alignItems: 'end',
  },
  description: { whiteSpace: 'pre-wrap', overflowWrap: 'anywhere', margin: 0 },
});

function entityLabel(kind: string): string {
  const words = kind.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function Section({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  const styles = useStyles();
  return (
    <section className={styles.section} aria-labelledby={id}>
      <Subtitle2 as="h3" id={id} className={styles.heading}>
        {title}
      </Subtitle2>
      {children}
    </section>
  );
}

/** The alert's device and incident as links, for the pages that list every device's alerts. */
function Whereabouts({ alert, onLeave }: { alert: AlertDetail; onLeave: () => void }) {
  return (
    <PropertyList
      items={[
        {
          label: 'Device',
          value: (
            <FlyoutLink to={`/devices/${encodeURIComponent(alert.device_id)}`} onLeave={onLeave}>
              {alert.device_name}
            </FlyoutLink>
          ),
          testId: 'alert-device',
        },
        {
          label: 'Incident',
          value: alert.incident ? (
            <FlyoutLink
              to={`/incidents?item=${encodeURIComponent(alert.incident.id)}`}
              onLeave={onLeave}
            >
              {alert.incident.title}
            </FlyoutLink>
          ) : (
            <NotKnown>None</NotKnown>
          ),
          testId: 'alert-incident-link',
        },
      ]}
    />
  );
}

function Summary({ alert }: { alert: AlertDetail }) {
  return (
    <PropertyList
      items={[
        { label: 'Severity', value: <SeverityBadge severity={alert.severity} /> },
        { label: 'Status', value: alertStatusLabel(alert.status), testId: 'alert-status' },
        {
          label: 'Classification',
          value: alert.classification ? (
            classificationLabel(alert.classification)
          ) : (
            <NotKnown>Not classified</NotKnown>
          ),
        },
        {
          label: 'Determination',
          value: alert.determination ? (
            determinationLabel(alert.determination)
          ) : (
            <NotKnown>None</NotKnown>
          ),
        },
        {
          label: 'Assigned to',
          value: alert.assignee ?? <NotKnown>Unassigned</NotKnown>,
          testId: 'alert-assignee',
        },
        { label: 'First activity', value: <DateTime value={alert.first_activity} /> },
        { label: 'Last activity', value: <DateTime value={alert.last_activity} /> },
        { label: 'Events', value: formatCount(alert.event_count), testId: 'alert-event-count' },
        {
          label: 'Tactics',
          value: alert.tactics.length ? alert.tactics.join(', ') : <NotKnown>None named</NotKnown>,
        },
        {
          label: 'Techniques',
          value: alert.techniques.length ? (
            alert.techniques.join(', ')
          ) : (
            <NotKnown>None named</NotKnown>
          ),
          testId: 'alert-techniques',
        },
        {
          label: 'Incident',
          value: alert.incident ? (
            `${alert.incident.title}: ${alert.incident.reason ?? ''}`
          ) : (
            <NotKnown>None</NotKnown>
          ),
          testId: 'alert-incident',
        },
      ]}
    />
  );
}

function Triage({ alert, onSaved }: { alert: AlertDetail; onSaved: () => void }) {
  const styles = useStyles();
  const ids = { status: useId(), assignee: useId(), cls: useId(), det: useId() };
  const [status, setStatus] = useState(alert.status);
  const [assignee, setAssignee] = useState(alert.assignee ?? '');
  const [classification, setClassification] = useState(alert.classification ?? '');
  const [determination, setDetermination] = useState(alert.determination ?? '');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function save(event: FormEvent) {
    event.preventDefault();
    const patch: AlertPatch = {
      status,
      assignee: assignee.trim() === '' ? null : assignee.trim(),
      classification:
        classification === '' ? null : (classification as AlertPatch['classification']),
      determination: determination === '' ? null : (determination as AlertPatch['determination']),
    };
    setSaving(true);
    setError(null);
    try {
      await patchAlert(alert.id, patch);
      onSaved();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'The change was not saved.');
    } finally {
      setSaving(false);
    }
  }

  return (
    <form className={styles.form} onSubmit={(event) => void save(event)} data-testid="alert-triage">
      <Field label={{ children: 'Status', htmlFor: ids.status }}>
        <Select
          id={ids.status}
          value={status}
          onChange={(_, data) => setStatus(data.value as AlertDetail['status'])}
          data-testid="triage-status"
        >
          {ALERT_STATUSES.map((value) => (
            <option key={value} value={value}>
              {alertStatusLabel(value)}
            </option>
          ))}
        </Select>
      </Field>
      <Field label={{ children: 'Assigned to', htmlFor: ids.assignee }}>
        <Input
          id={ids.assignee}
          value={assignee}
          maxLength={128}
          onChange={(_, data) => setAssignee(data.value)}
          data-testid="triage-assignee"
        />
      </Field>
      <Field label={{ children: 'Classification', htmlFor: ids.cls }}>
        <Select
          id={ids.cls}
          value={classification}
          onChange={(_, data) => setClassification(data.value)}
        >
          <option value="">Not classified</option>
          {CLASSIFICATIONS.map((value) => (
            <option key={value} value={value}>
              {classificationLabel(value)}
            </option>
          ))}
        </Select>
      </Field>
      <Field label={{ children: 'Determination', htmlFor: ids.det }}>
        <Select
          id={ids.det}
          value={determination}
          onChange={(_, data) => setDetermination(data.value)}
        >
          <option value="">None</option>
          {DETERMINATIONS.map((value) => (
            <option key={value} value={value}>
              {determinationLabel(value)}
            </option>
          ))}
        </Select>
      </Field>
      <Button type="submit" appearance="primary" disabled={saving} data-testid="triage-save">
        {saving ? 'Saving…' : 'Save'}
      </Button>
      {error !== null && (
        <MessageBar intent="error">
          <MessageBarBody>{error}</MessageBarBody>
        </MessageBar>
      )}
    </form>
  );
}

function RuleSection({ alert }: { alert: AlertDetail }) {
  const styles = useStyles();
  const rule = alert.rule;
  return (
    <>
      <Caption1 className={styles.muted}>
        {rule.title} ({rule.id}){rule.enabled === false ? ', now disabled' : ''}
      </Caption1>
      {rule.description ? (
        <p className={styles.description} data-testid="rule-description">
          {rule.description}
        </p>
      ) : (
        <NotKnown>The rule has no description</NotKnown>
      )}
      {rule.references.length > 0 && (
        <ul className={styles.list} data-testid="rule-references">
          {rule.references.map((reference, index) => {
            const href = safeLink(reference);
            return (
              <li key={`${index}:${reference}`}>
                {href === null ? (
                  reference
                ) : (
                  <Link href={href} target="_blank" rel="noopener noreferrer">
                    {reference}
                  </Link>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </>
  );
}

function MatchedEvents({ alert }: { alert: AlertDetail }) {
  const styles = useStyles();
  return (
    <>
      <ul className={styles.list} data-testid="alert-events">
        {alert.events.map((event) => (
          <li key={event.id ?? ''}>
            <DateTime value={event.time ?? null} />{' '}
            <span className={styles.mono}>
              {event.process?.command_line ||
                event.process?.image ||
                targetText(event.target) ||
                event.kind}
            </span>
          </li>
        ))}
      </ul>
      {alert.events_total > alert.events.length && (
        <Caption1 className={styles.muted}>
          The first {formatCount(alert.events.length)} of {formatCount(alert.events_total)} events
          are shown.
        </Caption1>
      )}
    </>
  );
}

function FirstEventTree({ eventId }: { eventId: string }) {
  const [result, retry] = useApiQuery((signal) => getProcessTree(eventId, signal), [eventId]);
  if (result.status === 'loading') return <LoadingState label="Loading the process tree…" />;
  if (result.status === 'error') {
    return (
      <ErrorState title="Could not load the process tree" error={result.error} onRetry={retry} />
    );
  }
  return <ProcessTree key={eventId} tree={result.data} />;
}

interface AlertBodyProps {
  alert: AlertDetail;
  onSaved: () => void;
  showDevice: boolean;
  onLeave: () => void;
}

function AlertBody({ alert, onSaved, showDevice, onLeave }: AlertBodyProps) {
  const styles = useStyles();
  const user = useCurrentUser();
  const first = alert.events[0]?.id;
  const prefix = `alert-${alert.id}`;
  return (
    <div className={styles.body} data-testid="alert-flyout">
      {showDevice && <Whereabouts alert={alert} onLeave={onLeave} />}
      <Summary alert={alert} />
      <Section id={`${prefix}-triage`} title="Manage alert">
        {roleAllows(user.role, 'analyst') ? (
          <Triage key={alert.updated_at} alert={alert} onSaved={onSaved} />
        ) : (
          <Caption1 className={styles.muted}>
            Your role ({user.role}) can view alerts but not change them.
          </Caption1>
        )}
      </Section>
      <Section id={`${prefix}-rule`} title="Rule">
        <RuleSection alert={alert} />
      </Section>
      <Section id={`${prefix}-entities`} title="Impacted entities">
        <ul className={styles.list} data-testid="alert-entities">
          {alert.entities.map((entity) => (
            <li key={`${entity.kind}:${entity.value}`}>
              {entityLabel(entity.kind)}: <span className={styles.mono}>{entity.value}</span>
            </li>
          ))}
        </ul>
      </Section>
      <Section id={`${prefix}-events`} title="Matched events">
        <MatchedEvents alert={alert} />
      </Section>
      {first != null && (
        <Section id={`${prefix}-tree`} title="Process tree of the first event">
          <FirstEventTree eventId={String(first)} />
        </Section>
      )}
    </div>
  );
}

interface AlertFlyoutProps {
  alertId: string | null;
  onClose: () => void;
  /** Called after the alert changed, so lists and counts show it. */
  onChanged: () => void;
  /** Link the alert's device and incident: on pages that are not the device's own. */
  showDevice?: boolean;
}

/** One alert: what fired, triage, the rule, the entities and events it involves. */
export function AlertFlyout({ alertId, onClose, onChanged, showDevice = false }: AlertFlyoutProps) {
  const [result, retry] = useApiQuery(
    (signal) => (alertId === null ? Promise.resolve(null) : getAlert(alertId, signal)),
    [alertId],
  );
  const title = result.status === 'ok' && result.data !== null ? result.data.title : 'Alert';
  return (
    <Flyout open={alertId !== null} size="large" title={title} onClose={onClose}>
      {result.status === 'loading' && <LoadingState label="Loading the alert…" />}
      {result.status === 'error' && (
        <ErrorState title="Could not load this alert" error={result.error} onRetry={retry} />
      )}
      {result.status === 'ok' && result.data !== null && (
        <AlertBody
          alert={result.data}
          showDevice={showDevice}
          onLeave={onClose}
          onSaved={() => {
            retry();
            onChanged();
          }}
        />
      )}
    </Flyout>
  );
}
