import { Body1, Title3, makeStyles, tokens } from '@fluentui/react-components';

import { AppLink } from '../../components/AppLink/AppLink';
import { useDocumentTitle } from '../../hooks/useDocumentTitle';

const useStyles = makeStyles({
  root: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
    padding: tokens.spacingHorizontalXXL,
  },
});

/** For an address the app does not know, or a device the server does not have. */
export function NotFoundPage({ what = 'page' }: { what?: 'page' | 'device' }) {
  useDocumentTitle('Not found');
  const styles = useStyles();
  return (
    <div className={styles.root} data-testid="not-found">
      <Title3 as="h1">{what === 'device' ? 'Device not found' : 'Page not found'}</Title3>
      <Body1>
        {what === 'device'
          ? 'No device has this id. It may have been removed, or the link is wrong.'
          : 'There is nothing at this address.'}
      </Body1>
      <AppLink to="/devices">Go to the device list</AppLink>
    </div>
  );
}
