import {
  Button,
  Caption1,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  Subtitle2,
  Textarea,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useId, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';

import { getRecommendation, patchRecommendation } from '../../api/client';
import type { RecommendationDetail, RecommendationPatch } from '../../api/types';
import { DateTime } from '../../components/DateTime/DateTime';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { Flyout } from '../../components/Flyout/Flyout';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import { roleAllows } from '../../components/ResponseActionsBar/responseActions';
import { useCurrentUser } from '../../components/SessionProvider/SessionProvider';
import { useApiQuery } from '../../hooks/useApiQuery';
import { formatCount } from '../../lib/format';
import { RecommendationStatusBadge } from './RecommendationsTab';
import { cvssText, exceptionPatch, reductionText, threatText } from './recommendationText';

const useStyles = makeStyles({
  body: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL },
  section: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
  heading: { margin: 0 },
  mono: {
    fontFamily: tokens.fontFamilyMonospace,
    fontSize: tokens.fontSizeBase200,
    overflowWrap: 'anywhere',
  },
  muted: { color: tokens.colorNeutralForeground3 },
  list: { margin: 0, paddingLeft: tokens.spacingHorizontalL, overflowWrap: 'anywhere' },
  actions: { display: 'flex', gap: tokens.spacingHorizontalS, flexWrap: 'wrap' },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
});

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

function Summary({ rec }: { rec: RecommendationDetail }) {
  return (
    <PropertyList
      items={[
        {
          label: 'Status',
          value: <RecommendationStatusBadge status={rec.status} />,
          testId: 'recommendation-status',
        },
        { label: 'Related component', value: rec.component },
        {
          label: 'Installed',
          value: rec.installed_versions.join(', ') || <NotKnown>No version known</NotKnown>,
          testId: 'recommendation-installed',
        },
        {
          label: 'Update to',
          value: rec.fixed_version ?? <NotKnown>No fix available</NotKnown>,
          testId: 'recommendation-fixed',
        },
        { label: 'Weaknesses', value: formatCount(rec.weakness_count) },
        {
          label: 'Threats',
          value: threatText(rec.threats) || <NotKnown>None known</NotKnown>,
          testId: 'recommendation-threats',
        },
        { label: 'Highest CVSS', value: cvssText(rec.highest_cvss) },
        {
          label: 'Exposure reduction',
          value: reductionText(rec.exposure_reduction),
          testId: 'recommendation-reduction',
        },
        {
          label: 'Resolved',
          value: rec.resolved_at ? <DateTime value={rec.resolved_at} /> : <NotKnown>No</NotKnown>,
        },
      ]}
    />
  );
}

function ExceptionDialog({
  rec,
  onClose,
  onSaved,
}: {
  rec: RecommendationDetail;
  onClose: () => void;
  onSaved: () => void;
}) {
  const styles = useStyles();
  const ids = { reason: useId(), expiry: useId() };
  const [reason, setReason] = useState('');
  const [expiry, setExpiry] = useState('');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function save(event: FormEvent) {
    event.preventDefault();
    const built = exceptionPatch(reason, expiry, new Date());
    if ('error' in built) {
      setError(built.error);
      return;
    }
    setSaving(true);
    setError(null);
    try {
      await patchRecommendation(rec.id, built.patch);
      onSaved();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'The exception was not saved.');
    } finally {
      setSaving(false);
    }
  }

  return (
    <Dialog open onOpenChange={(_, data) => !data.open && onClose()}>
      <DialogSurface data-testid="exception-dialog">
        {/* Our own check says what is missing, in words, rather than the browser bubble. */}
        <form noValidate onSubmit={(event) => void save(event)}>
          <DialogBody>
            <DialogTitle>File an exception</DialogTitle>
            <DialogContent className={styles.form}>
              <Caption1>
                {rec.title}: while the exception holds, its weaknesses do not count in the
                device&apos;s exposure.
              </Caption1>
              <Field label={{ children: 'Justification', htmlFor: ids.reason }} required>
                <Textarea
                  id={ids.reason}
                  value={reason}
                  maxLength={2000}
                  onChange={(_, data) => setReason(data.value)}
                  data-testid="exception-justification"
                />
              </Field>
              <Field
                label={{ children: 'Expires (optional)', htmlFor: ids.expiry }}
                hint="At the end of that day, UTC; the recommendation is active again then."
              >
                <Input
                  id={ids.expiry}
                  type="date"
                  value={expiry}
                  onChange={(_, data) => setExpiry(data.value)}
                  data-testid="exception-expiry"
                />
              </Field>
              {error !== null && (
                <MessageBar intent="error">
                  <MessageBarBody>{error}</MessageBarBody>
                </MessageBar>
              )}
            </DialogContent>
            <DialogActions>
              <Button onClick={onClose}>Cancel</Button>
              <Button
                type="submit"
                appearance="primary"
                disabled={saving}
                data-testid="exception-save"
              >
                {saving ? 'Saving…' : 'File exception'}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}

function Manage({ rec, onSaved }: { rec: RecommendationDetail; onSaved: () => void }) {
  const styles = useStyles();
  const [dialog, setDialog] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function reactivate() {
    const patch: RecommendationPatch = { status: 'active' };
    setError(null);
    try {
      await patchRecommendation(rec.id, patch);
      onSaved();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'The change was not saved.');
    }
  }

  if (rec.status === 'resolved') {
    return (
      <Caption1 className={styles.muted}>
        Resolved: the device&apos;s inventory no longer has a vulnerable version. It reopens by
        itself if one comes back.
      </Caption1>
    );
  }
  return (
    <>
      {rec.exception !== null && (
        <PropertyList
          items={[
            {
              label: 'Justification',
              value: rec.exception.justification,
              testId: 'exception-shown-justification',
            },
            {
              label: 'Expires',
              value: rec.exception.expires_at ? (
                <DateTime value={rec.exception.expires_at} />
              ) : (
                <NotKnown>Never</NotKnown>
              ),
            },
            { label: 'Filed by', value: rec.exception.created_by ?? <NotKnown /> },
          ]}
        />
      )}
      <div className={styles.actions}>
        {rec.status === 'active' ? (
          <Button onClick={() => setDialog(true)} data-testid="recommendation-file-exception">
            File an exception
          </Button>
        ) : (
          <Button onClick={() => void reactivate()} data-testid="recommendation-reactivate">
            Make active again
          </Button>
        )}
      </div>
      {error !== null && (
        <MessageBar intent="error">
          <MessageBarBody>{error}</MessageBarBody>
        </MessageBar>
      )}
      {dialog && (
        <ExceptionDialog
          rec={rec}
          onClose={() => setDialog(false)}
          onSaved={() => {
            setDialog(false);
            onSaved();
          }}
        />
      )}
    </>
  );
}

function RecommendationBody({ rec, onSaved }: { rec: RecommendationDetail; onSaved: () => void }) {
  const styles = useStyles();
  const user = useCurrentUser();
  const prefix = `recommendation-${rec.id}`;
  return (
    <div className={styles.body} data-testid="recommendation-flyout">
      <Summary rec={rec} />
      <Section id={`${prefix}-apply`} title="How to apply it">
        <ol className={styles.list} data-testid="recommendation-steps">
          {rec.how_to_apply.map((step, index) => (
            <li key={index} className={styles.mono}>
              {step}
            </li>
          ))}
        </ol>
      </Section>
      <Section id={`${prefix}-components`} title="Affected installs">
        <ul className={styles.list} data-testid="recommendation-components">
          {rec.components.map((item) => (
            <li key={item.software_id}>
              {item.name} {item.version ?? ''}
              {item.install_path ? (
                <>
                  {' '}
                  in <span className={styles.mono}>{item.install_path}</span>
                </>
              ) : null}
            </li>
          ))}
        </ul>
      </Section>
      <Section id={`${prefix}-weaknesses`} title="Weaknesses addressed">
        <ul className={styles.list} data-testid="recommendation-weaknesses">
          {rec.weaknesses.map((weakness) => (
            <li key={weakness.vulnerability_id}>
              {weakness.key}: {cvssText(weakness.cvss)}
              {weakness.exploited ? ', exploited' : ''}
              {weakness.ransomware ? ', known ransomware use' : ''}
              {weakness.fixed_version ? `, fixed in ${weakness.fixed_version}` : ', no fix'}
            </li>
          ))}
        </ul>
      </Section>
      <Section id={`${prefix}-manage`} title="Status">
        {roleAllows(user.role, 'analyst') ? (
          <Manage key={rec.updated_at} rec={rec} onSaved={onSaved} />
        ) : (
          <Caption1 className={styles.muted}>
            Your role ({user.role}) can view recommendations but not file exceptions.
          </Caption1>
        )}
      </Section>
    </div>
  );
}

interface RecommendationFlyoutProps {
  recommendationId: number | null;
  onClose: () => void;
  /** Called after the status changed, so lists, counts and the exposure show it. */
  onChanged: () => void;
}

/** One recommendation: what to update, how, what it fixes, and its status. */
export function RecommendationFlyout({
  recommendationId,
  onClose,
  onChanged,
}: RecommendationFlyoutProps) {
  const [result, retry] = useApiQuery(
    (signal) =>
      recommendationId === null
        ? Promise.resolve(null)
        : getRecommendation(recommendationId, signal),
    [recommendationId],
  );
  const title =
    result.status === 'ok' && result.data !== null ? result.data.title : 'Recommendation';
  return (
    <Flyout open={recommendationId !== null} size="large" title={title} onClose={onClose}>
      {result.status === 'loading' && <LoadingState label="Loading the recommendation…" />}
      {result.status === 'error' && (
        <ErrorState
          title="Could not load this recommendation"
          error={result.error}
          onRetry={retry}
        />
      )}
      {result.status === 'ok' && result.data !== null && (
        <RecommendationBody
          rec={result.data}
          onSaved={() => {
            retry();
            onChanged();
          }}
        />
      )}
    </Flyout>
  );
}
