import {
  Badge,
  Button,
  MessageBar,
  MessageBarBody,
  Text,
  Tooltip,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import {
  ShieldCheckmarkRegular,
  SignOutRegular,
  WeatherMoonRegular,
  WeatherSunnyRegular,
} from '@fluentui/react-icons';
import { useState } from 'react';
import { Outlet, useNavigate } from 'react-router';

import { ApiError, logout } from '../../api/client';
import { AppLink } from '../AppLink/AppLink';
import { useCurrentUser, useSession } from '../SessionProvider/SessionProvider';
import { useTheme } from '../ThemeProvider/ThemeProvider';

const useStyles = makeStyles({
  header: {
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalL,
    padding: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalL}`,
    backgroundColor: tokens.colorNeutralBackground3,
    borderBottom: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
  },
  product: {
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalS,
    fontWeight: tokens.fontWeightSemibold,
    fontSize: tokens.fontSizeBase400,
    color: tokens.colorNeutralForeground1,
    textDecorationLine: 'none',
  },
  nav: { display: 'flex', gap: tokens.spacingHorizontalM },
  spacer: { flexGrow: 1 },
  user: { display: 'flex', alignItems: 'center', gap: tokens.spacingHorizontalS },
  main: { flexGrow: 1, display: 'flex', flexDirection: 'column', minWidth: 0 },
});

/** The page frame for signed-in users: header bar, then the page. */
export function AppShell() {
  const styles = useStyles();
  const user = useCurrentUser();
  const { setUser } = useSession();
  const { theme, toggleTheme } = useTheme();
  const navigate = useNavigate();
  const [signOutError, setSignOutError] = useState<string | null>(null);
  const [signingOut, setSigningOut] = useState(false);

  const signOut = async () => {
    setSigningOut(true);
    setSignOutError(null);
    try {
      await logout();
    } catch (error) {
      // A 401 means the session was already over: that is signed out too.
      if (!(error instanceof ApiError && error.status === 401)) {
        setSignOutError(error instanceof Error ? error.message : String(error));
        setSigningOut(false);
        return;
      }
    }
    setUser(null);
    void navigate('/login', { replace: true });
  };

  const themeLabel = theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme';

  return (
    <>
      <header className={styles.header}>
        <AppLink to="/devices" className={styles.product} aria-label="Hostwatch, device list">
          <ShieldCheckmarkRegular fontSize={20} aria-hidden />
          Hostwatch
        </AppLink>
        <nav className={styles.nav} aria-label="Main">
          <AppLink to="/devices">Devices</AppLink>
          <AppLink to="/alerts">Alerts</AppLink>
          <AppLink to="/incidents">Incidents</AppLink>
          <AppLink to="/actions">Action center</AppLink>
        </nav>
        <span className={styles.spacer} />
        <span className={styles.user} data-testid="current-user">
          <Text weight="semibold">{user.name}</Text>
          <Badge appearance="outline" color="informative" shape="rounded">
            {user.role}
          </Badge>
        </span>
        <Tooltip content={themeLabel} relationship="label">
          <Button
            appearance="subtle"
            icon={theme === 'dark' ? <WeatherSunnyRegular /> : <WeatherMoonRegular />}
            onClick={toggleTheme}
            data-testid="theme-toggle"
          />
        </Tooltip>
        <Button
          appearance="subtle"
          icon={<SignOutRegular />}
          onClick={() => void signOut()}
          disabled={signingOut}
          data-testid="sign-out"
        >
          Sign out
        </Button>
      </header>
      {signOutError !== null && (
        <MessageBar intent="error">
          <MessageBarBody>Could not sign out: {signOutError}</MessageBarBody>
        </MessageBar>
      )}
      <main className={styles.main}>
        <Outlet />
      </main>
    </>
  );
}
