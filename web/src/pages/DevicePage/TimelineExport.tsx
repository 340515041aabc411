import { Button, Caption1, Spinner, makeStyles, tokens } from '@fluentui/react-components';
import { ArrowDownloadRegular } from '@fluentui/react-icons';
import { useId, useState } from 'react';

import { exportTimeline } from '../../api/client';
import type { TimelineExportQuery } from '../../api/types';
import { daysOf } from '../../components/DateRangePicker/ranges';
import type { TimeRange } from '../../components/DateRangePicker/ranges';

/** The server exports at most this many days at once. */
export const MAX_EXPORT_DAYS = 7;

const useStyles = makeStyles({
  root: { display: 'flex', alignItems: 'center', gap: tokens.spacingHorizontalS },
  why: { color: tokens.colorNeutralForeground3, maxWidth: '260px' },
});

function save(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  // The click has handed the file to the browser's download; the URL is no longer needed.
  window.setTimeout(() => URL.revokeObjectURL(url), 0);
}

interface TimelineExportProps {
  deviceId: string;
  range: TimeRange;
  query: TimelineExportQuery;
  /** The server refused or failed: the page shows why. */
  onError: (error: Error | null) => void;
}

/** Downloads the range's events as CSV from the server: every event, not just this page. */
export function TimelineExport({ deviceId, range, query, onError }: TimelineExportProps) {
  const styles = useStyles();
  const whyId = useId();
  const [busy, setBusy] = useState(false);
  const tooLong = daysOf(range) > MAX_EXPORT_DAYS;

  const run = async () => {
    setBusy(true);
    onError(null);
    try {
      const file = await exportTimeline(deviceId, query);
      save(file.blob, file.fileName);
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <span className={styles.root}>
      <Button
        icon={busy ? <Spinner size="tiny" /> : <ArrowDownloadRegular />}
        disabled={tooLong || busy}
        aria-describedby={tooLong ? whyId : undefined}
        onClick={() => void run()}
        data-testid="timeline-export"
      >
        Export range (CSV)
      </Button>
      {tooLong && (
        <Caption1 id={whyId} className={styles.why} data-testid="timeline-export-why">
          An export covers at most {MAX_EXPORT_DAYS} days: narrow the range to export it.
        </Caption1>
      )}
    </span>
  );
}
