import {
  Button,
  Caption1,
  Field,
  MessageBar,
  MessageBarBody,
  Select,
  Subtitle2,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useId, useState } from 'react';
import type { FormEvent } from 'react';

import { getIncident, patchIncident } from '../../api/client';
import type { IncidentDetail, IncidentStatus } from '../../api/types';
import { FlyoutLink } from '../../components/FlyoutLink/FlyoutLink';
import { DateTime } from '../../components/DateTime/DateTime';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { Flyout } from '../../components/Flyout/Flyout';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import { roleAllows } from '../../components/ResponseActionsBar/responseActions';
import { useCurrentUser } from '../../components/SessionProvider/SessionProvider';
import { useApiQuery } from '../../hooks/useApiQuery';
import { alertStatusLabel } from '../../lib/alertLabels';
import { formatCount } from '../../lib/format';
import { SeverityBadge } from '../DevicePage/SeverityBadge';
import { INCIDENT_STATUSES, incidentStatusLabel } from './incidentsState';

const useStyles = makeStyles({
  body: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL },
  section: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
  heading: { margin: 0 },
  muted: { color: tokens.colorNeutralForeground3 },
  form: { display: 'flex', alignItems: 'flex-end', gap: tokens.spacingHorizontalM },
  scroll: { overflowX: 'auto' },
  table: { minWidth: '820px' },
  cell: { overflowWrap: 'anywhere', verticalAlign: 'top' },
});

/** Unique device links of the incident, from its alerts (the list only has names). */
function deviceLinks(incident: IncidentDetail, onLeave: () => void) {
  const seen = new Map<string, string>();
  for (const alert of incident.alerts) seen.set(alert.device_id, alert.device_name);
  return [...seen.entries()].map(([id, name], index) => (
    <span key={id}>
      {index > 0 && ', '}
      <FlyoutLink to={`/devices/${encodeURIComponent(id)}`} onLeave={onLeave}>
        {name}
      </FlyoutLink>
    </span>
  ));
}

function StatusForm({ incident, onSaved }: { incident: IncidentDetail; onSaved: () => void }) {
  const styles = useStyles();
  const id = useId();
  const [status, setStatus] = useState<IncidentStatus>(incident.status);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function save(event: FormEvent) {
    event.preventDefault();
    setSaving(true);
    setError(null);
    try {
      await patchIncident(incident.id, { status });
      onSaved();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'The change was not saved.');
    } finally {
      setSaving(false);
    }
  }

  return (
    <>
      <form
        className={styles.form}
        onSubmit={(event) => void save(event)}
        data-testid="incident-triage"
      >
        <Field label={{ children: 'Status', htmlFor: id }}>
          <Select
            id={id}
            value={status}
            onChange={(_, data) => setStatus(data.value as IncidentStatus)}
            data-testid="incident-triage-status"
          >
            {INCIDENT_STATUSES.map((value) => (
              <option key={value} value={value}>
                {incidentStatusLabel(value)}
              </option>
            ))}
          </Select>
        </Field>
        <Button
          type="submit"
          appearance="primary"
          disabled={saving || status === incident.status}
          data-testid="incident-triage-save"
        >
          {saving ? 'Saving…' : 'Save'}
        </Button>
      </form>
      <Caption1 className={styles.muted}>
        Resolving the incident resolves its open alerts. A resolved incident reopens when one of its
        alerts does.
      </Caption1>
      {error !== null && (
        <MessageBar intent="error" data-testid="incident-triage-error">
          <MessageBarBody>{error}</MessageBarBody>
        </MessageBar>
      )}
    </>
  );
}

function IncidentAlerts({ incident, onLeave }: { incident: IncidentDetail; onLeave: () => void }) {
  const styles = useStyles();
  return (
    <div className={styles.scroll}>
      <Table size="small" className={styles.table} aria-label="Alerts of the incident">
        <TableHeader>
          <TableRow>
            <TableHeaderCell>Alert</TableHeaderCell>
            <TableHeaderCell>Severity</TableHeaderCell>
            <TableHeaderCell>Status</TableHeaderCell>
            <TableHeaderCell>Device</TableHeaderCell>
            <TableHeaderCell>User</TableHeaderCell>
            <TableHeaderCell>First activity</TableHeaderCell>
            <TableHeaderCell>Why it is in this incident</TableHeaderCell>
          </TableRow>
        </TableHeader>
        <TableBody data-testid="incident-alerts">
          {incident.alerts.map((alert) => (
            <TableRow key={alert.id} data-testid="incident-alert" data-alert-id={alert.id}>
              <TableCell className={styles.cell}>
                <FlyoutLink to={`/alerts?item=${encodeURIComponent(alert.id)}`} onLeave={onLeave}>
                  {alert.title}
                </FlyoutLink>
              </TableCell>
              <TableCell className={styles.cell}>
                <SeverityBadge severity={alert.severity} />
              </TableCell>
              <TableCell className={styles.cell}>{alertStatusLabel(alert.status)}</TableCell>
              <TableCell className={styles.cell}>
                <FlyoutLink
                  to={`/devices/${encodeURIComponent(alert.device_id)}`}
                  onLeave={onLeave}
                >
                  {alert.device_name}
                </FlyoutLink>
              </TableCell>
              <TableCell className={styles.cell}>
                {alert.user ?? <NotKnown>None</NotKnown>}
              </TableCell>
              <TableCell className={styles.cell}>
                <DateTime value={alert.first_activity} />
              </TableCell>
              <TableCell className={styles.cell} data-testid="incident-alert-reason">
                {alert.reason ?? <NotKnown>Not recorded</NotKnown>}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </div>
  );
}

interface IncidentBodyProps {
  incident: IncidentDetail;
  onSaved: () => void;
  onLeave: () => void;
}

function IncidentBody({ incident, onSaved, onLeave }: IncidentBodyProps) {
  const styles = useStyles();
  const user = useCurrentUser();
  const prefix = `incident-${incident.id}`;
  return (
    <div className={styles.body} data-testid="incident-flyout">
      <PropertyList
        items={[
          { label: 'Severity', value: <SeverityBadge severity={incident.severity} /> },
          {
            label: 'Status',
            value: incidentStatusLabel(incident.status),
            testId: 'incident-status',
          },
          { label: 'Devices', value: deviceLinks(incident, onLeave), testId: 'incident-devices' },
          {
            label: 'Users',
            value: incident.users.length ? incident.users.join(', ') : <NotKnown>None</NotKnown>,
            testId: 'incident-users',
          },
          {
            label: 'Alerts',
            value: `${formatCount(incident.alert_count)}, ${formatCount(incident.active_alerts)} active`,
            testId: 'incident-alert-count',
          },
          { label: 'First activity', value: <DateTime value={incident.first_activity} /> },
          { label: 'Last activity', value: <DateTime value={incident.last_activity} /> },
        ]}
      />
      <section className={styles.section} aria-labelledby={`${prefix}-manage`}>
        <Subtitle2 as="h3" id={`${prefix}-manage`} className={styles.heading}>
          Manage incident
        </Subtitle2>
        {roleAllows(user.role, 'analyst') ? (
          <StatusForm key={incident.status} incident={incident} onSaved={onSaved} />
        ) : (
          <Caption1 className={styles.muted}>
            Your role ({user.role}) can view incidents but not change them.
          </Caption1>
        )}
      </section>
      <section className={styles.section} aria-labelledby={`${prefix}-alerts`}>
        <Subtitle2 as="h3" id={`${prefix}-alerts`} className={styles.heading}>
          Alerts, and why each was linked
        </Subtitle2>
        <IncidentAlerts incident={incident} onLeave={onLeave} />
      </section>
    </div>
  );
}

interface IncidentFlyoutProps {
  incidentId: string | null;
  onClose: () => void;
  /** Called after the incident changed, so the list shows it. */
  onChanged: () => void;
}

/** One incident: its summary, its status, and its alerts with the reason each joined. */
export function IncidentFlyout({ incidentId, onClose, onChanged }: IncidentFlyoutProps) {
  const [result, retry] = useApiQuery(
    (signal) => (incidentId === null ? Promise.resolve(null) : getIncident(incidentId, signal)),
    [incidentId],
  );
  const title = result.status === 'ok' && result.data !== null ? result.data.title : 'Incident';
  return (
    <Flyout open={incidentId !== null} size="large" title={title} onClose={onClose}>
      {result.status === 'loading' && <LoadingState label="Loading the incident…" />}
      {result.status === 'error' && (
        <ErrorState title="Could not load this incident" error={result.error} onRetry={retry} />
      )}
      {result.status === 'ok' && result.data !== null && (
        <IncidentBody
          incident={result.data}
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
