import { Badge, Link, Subtitle2, makeStyles, tokens } from '@fluentui/react-components';

import type { MissingAdvisory, MissingUpdate, MissingUpdatesPage } from '../../api/types';
import { Flyout } from '../../components/Flyout/Flyout';
import { NotKnown } from '../../components/NotKnown/NotKnown';
import { PropertyList } from '../../components/PropertyList/PropertyList';
import { advisoryLink, safeLink } from './missingUpdates';

const useStyles = makeStyles({
  mono: { fontFamily: tokens.fontFamilyMonospace, fontSize: tokens.fontSizeBase200 },
  section: { marginTop: tokens.spacingVerticalL, marginBottom: tokens.spacingVerticalS },
  list: { margin: 0, paddingLeft: tokens.spacingHorizontalL },
  cve: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalS },
});

function ExternalLink({ href, children }: { href: string | null; children: string }) {
  if (href === null) return <NotKnown>No link given</NotKnown>;
  return (
    <Link href={href} target="_blank" rel="noopener noreferrer">
      {children}
    </Link>
  );
}

function UpdateDetails({ update }: { update: MissingUpdate }) {
  const styles = useStyles();
  return (
    <>
      <PropertyList
        items={[
          { label: 'KB number', value: update.kb, testId: 'update-kb' },
          { label: 'Bulletin', value: update.bulletin },
          { label: 'OS version', value: update.os_version },
          { label: 'Update type', value: update.update_type || <NotKnown>Not given</NotKnown> },
          {
            label: 'Fixed build',
            value: <span className={styles.mono}>{update.fixed_build}</span>,
          },
          { label: 'Why it is missing', value: update.reason, testId: 'update-reason' },
          {
            label: 'Restart required',
            value: update.restart_required ?? <NotKnown>Not given</NotKnown>,
          },
          {
            label: 'Get it',
            value: (
              <ExternalLink href={safeLink(update.url)}>Microsoft Update Catalog</ExternalLink>
            ),
            testId: 'update-link',
          },
        ]}
      />
      <Subtitle2 as="h3" className={styles.section}>
        CVEs addressed ({update.cve_count})
      </Subtitle2>
      <ul className={styles.list} data-testid="update-cves">
        {update.cves.map((cve) => (
          <li key={cve.cve}>
            <span className={styles.cve}>
              <span className={styles.mono}>{cve.cve}</span>
              <span>{cve.title}</span>
              {cve.severity !== null && (
                <Badge appearance="outline" shape="rounded">
                  {cve.severity}
                </Badge>
              )}
              {cve.exploited && (
                <Badge appearance="filled" color="danger" shape="rounded">
                  Exploited
                </Badge>
              )}
            </span>
          </li>
        ))}
      </ul>
    </>
  );
}

function AdvisoryDetails({ advisory }: { advisory: MissingAdvisory }) {
  const styles = useStyles();
  return (
    <>
      <PropertyList
        items={[
          { label: 'Advisory', value: advisory.advisory, testId: 'advisory-id' },
          { label: 'Source package', value: advisory.package },
          { label: 'Installed packages', value: advisory.binary_packages.join(', ') },
          {
            label: 'Installed version',
            value: <span className={styles.mono}>{advisory.installed_version}</span>,
          },
          {
            label: 'Install',
            value:
              advisory.fixed_version === null ? (
                <NotKnown>No fixed version yet</NotKnown>
              ) : (
                <span className={styles.mono}>
                  {advisory.package} {advisory.fixed_version} or later
                </span>
              ),
            testId: 'advisory-fixed',
          },
          {
            label: 'Advisory page',
            value: (
              <ExternalLink href={advisoryLink(advisory.advisory)}>
                {advisory.advisory}
              </ExternalLink>
            ),
          },
        ]}
      />
      <Subtitle2 as="h3" className={styles.section}>
        CVEs ({advisory.cve_count})
      </Subtitle2>
      <ul className={styles.list}>
        {advisory.cves.map((cve) => (
          <li key={cve} className={styles.mono}>
            {cve}
          </li>
        ))}
      </ul>
    </>
  );
}

interface Props {
  page: MissingUpdatesPage;
  itemId: string | null;
  onClose: () => void;
}

/** One missing update or advisory: what to install, why, and what it fixes. */
export function MissingUpdateFlyout({ page, itemId, onClose }: Props) {
  const update = page.items.find((u) => u.id === itemId);
  const advisory = page.advisories.find((a) => a.id === itemId);
  const open = itemId !== null && (update !== undefined || advisory !== undefined);
  return (
    <Flyout open={open} title={update?.kb ?? advisory?.advisory ?? 'Update'} onClose={onClose}>
      {update !== undefined && <UpdateDetails update={update} />}
      {advisory !== undefined && <AdvisoryDetails advisory={advisory} />}
    </Flyout>
  );
}
