import {
  Caption1,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Title3,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { ChevronRightRegular } from '@fluentui/react-icons';
import { useEffect } from 'react';
import { useParams, useSearchParams } from 'react-router';

import { ApiError, getDevice } from '../../api/client';
import type { DeviceDetail } from '../../api/types';
import { AppLink } from '../../components/AppLink/AppLink';
import { DateTime } from '../../components/DateTime/DateTime';
import { ErrorState } from '../../components/ErrorState/ErrorState';
import { HealthBadge } from '../../components/HealthBadge/HealthBadge';
import { KnownFromBadge } from '../../components/KnownFromBadge/KnownFromBadge';
import { LoadingState } from '../../components/LoadingState/LoadingState';
import { ResponseActionsBar } from '../../components/ResponseActionsBar/ResponseActionsBar';
import { Tabs } from '../../components/Tabs/Tabs';
import { useApiQuery } from '../../hooks/useApiQuery';
import { useDocumentTitle } from '../../hooks/useDocumentTitle';
import { NotFoundPage } from '../NotFoundPage/NotFoundPage';
import { containmentSummary } from '../../lib/actionLabels';
import { AlertsTab } from './AlertsTab';
import { DeviceActionsTab } from './DeviceActionsTab';
import { DeviceSidebar } from './DeviceSidebar';
import { OverviewTab } from './OverviewTab';
import { readTab, tabParams, tabsFor } from './profileTabs';
import { RecommendationsTab } from './RecommendationsTab';
import type { ProfileTabId } from './profileTabs';
import { MissingUpdatesTab } from './MissingUpdatesTab';
import { SoftwareTab } from './SoftwareTab';
import { TimelineTab } from './TimelineTab';
import { VulnerabilitiesTab } from './VulnerabilitiesTab';

const useStyles = makeStyles({
  page: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
    padding: `${tokens.spacingVerticalM} ${tokens.spacingHorizontalXL}`,
    backgroundColor: tokens.colorNeutralBackground2,
    flexGrow: 1,
  },
  breadcrumb: {
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalXS,
    color: tokens.colorNeutralForeground3,
  },
  titleRow: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'center',
    gap: tokens.spacingHorizontalM,
  },
  title: { margin: 0, overflowWrap: 'anywhere' },
  lastSeen: { color: tokens.colorNeutralForeground3 },
  body: {
    display: 'grid',
    gridTemplateColumns: 'minmax(280px, 360px) minmax(0, 1fr)',
    gap: tokens.spacingHorizontalL,
    alignItems: 'start',
    '@media (max-width: 800px)': { gridTemplateColumns: 'minmax(0, 1fr)' },
  },
  main: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, minWidth: 0 },
});

const PENDING_REFRESH_MS = 10_000;

interface DeviceProfileProps {
  device: DeviceDetail;
  onChanged: () => void;
}

function DeviceProfile({ device, onChanged }: DeviceProfileProps) {
  const styles = useStyles();
  const [params, setParams] = useSearchParams();
  const tabs = tabsFor(device.known_from);
  const tab = readTab(params, tabs);
  return (
    <>
      <div className={styles.titleRow}>
        <Title3 as="h1" className={styles.title} data-testid="device-name">
          {device.name}
        </Title3>
        <HealthBadge state={device.details.health_state} />
        <KnownFromBadge knownFrom={device.known_from} />
        <Caption1 className={styles.lastSeen}>
          Last seen <DateTime value={device.network_activity.last_seen} relative missing="never" />
        </Caption1>
      </div>
      {containmentSummary(device.containment).isolated && (
        <MessageBar intent="warning" layout="multiline" data-testid="isolation-banner">
          <MessageBarBody>
            <MessageBarTitle>
              {containmentSummary(device.containment).isolation}: this device&apos;s network is cut
              off
            </MessageBarTitle>
            Its agent verified the isolation
            {device.containment.checked_at !== null && (
              <>
                {' '}
                <DateTime value={device.containment.checked_at} relative />
              </>
            )}
            . Only this Hostwatch server (and, in selective isolation, the allowed users and
            cgroups) can reach it until it is released.
          </MessageBarBody>
        </MessageBar>
      )}
      <ResponseActionsBar device={device} onChanged={onChanged} />
      <div className={styles.body}>
        <DeviceSidebar device={device} />
        <section className={styles.main} aria-label="Device views">
          <Tabs
            label="Device views"
            tabs={tabs}
            selected={tab}
            onSelect={(id: ProfileTabId) => setParams(tabParams(id))}
            idPrefix="device-tab"
          />
          <div role="tabpanel" aria-labelledby={`device-tab-${tab}`}>
            {tab === 'overview' && <OverviewTab device={device} />}
            {tab === 'alerts' && <AlertsTab device={device} onChanged={onChanged} />}
            {tab === 'timeline' && <TimelineTab device={device} />}
            {tab === 'software' && <SoftwareTab device={device} />}
            {tab === 'recommendations' && (
              <RecommendationsTab device={device} onChanged={onChanged} />
            )}
            {tab === 'vulnerabilities' && <VulnerabilitiesTab device={device} />}
            {tab === 'updates' && <MissingUpdatesTab device={device} />}
            {tab === 'actions' && <DeviceActionsTab device={device} onChanged={onChanged} />}
          </div>
        </section>
      </div>
    </>
  );
}

/** The machine profile: everything known about one device. */
export function DevicePage() {
  const styles = useStyles();
  const { id = '' } = useParams();
  const [result, retry] = useApiQuery((signal) => getDevice(id, signal), [id]);
  const missing =
    result.status === 'error' && result.error instanceof ApiError && result.error.status === 404;
  useDocumentTitle(result.status === 'ok' ? result.data.name : missing ? 'Not found' : 'Device');
  // While an action is on its way, ask again now and then, so its state (and the containment
  // the agent verifies) shows without a reload.
  const waiting = result.status === 'ok' && result.data.containment.pending.length > 0;
  useEffect(() => {
    if (!waiting) return;
    const timer = window.setInterval(retry, PENDING_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [waiting, retry]);

  if (missing) {
    return <NotFoundPage what="device" />;
  }

  return (
    <div className={styles.page}>
      <nav aria-label="Breadcrumb" className={styles.breadcrumb}>
        <AppLink to="/devices">Devices</AppLink>
        <ChevronRightRegular aria-hidden />
        <span>{result.status === 'ok' ? result.data.name : 'Device'}</span>
      </nav>
      {result.status === 'loading' && <LoadingState label="Loading the device…" />}
      {result.status === 'error' && (
        <ErrorState title="Could not load this device" error={result.error} onRetry={retry} />
      )}
      {result.status === 'ok' && <DeviceProfile device={result.data} onChanged={retry} />}
    </div>
  );
}
