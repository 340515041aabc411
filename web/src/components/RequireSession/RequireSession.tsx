import { useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';

import { ApiError, getMe } from '../../api/client';
import { loginPathFor } from '../../lib/redirect';
import { ErrorState } from '../ErrorState/ErrorState';
import { LoadingState } from '../LoadingState/LoadingState';
import { useSession } from '../SessionProvider/SessionProvider';

/** Render the children only for a signed-in user; otherwise go to the login page. */
export function RequireSession({ children }: { children: ReactNode }) {
  const { user, setUser } = useSession();
  const location = useLocation();
  const [error, setError] = useState<Error | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (user !== undefined) {
      return;
    }
    const controller = new AbortController();
    setError(null);
    getMe(controller.signal).then(
      (me) => setUser({ name: me.name, role: me.role }),
      (failure: unknown) => {
        if (controller.signal.aborted) {
          return;
        }
        if (failure instanceof ApiError && failure.status === 401) {
          setUser(null);
        } else {
          setError(failure instanceof Error ? failure : new Error(String(failure)));
        }
      },
    );
    return () => controller.abort();
  }, [user, setUser, attempt]);

  if (user === null) {
    return <Navigate to={loginPathFor(location.pathname + location.search)} replace />;
  }
  if (error !== null) {
    return (
      <ErrorState
        title="Could not check your session"
        error={error}
        onRetry={() => setAttempt((n) => n + 1)}
      />
    );
  }
  if (user === undefined) {
    return <LoadingState label="Checking your session…" />;
  }
  return <>{children}</>;
}
