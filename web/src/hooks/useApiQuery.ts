// Load data from the API for a page: loading, data or error, with retry and abort on change.
// A retry after success (a refresh, say after a change) keeps showing the data it replaces.
// A 401 at any time means the session ended: go to the login page and come back after.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { DependencyList } from 'react';
import { useNavigate } from 'react-router';

import { ApiError } from '../api/client';
import { useSession } from '../components/SessionProvider/SessionProvider';
import { loginPathFor } from '../lib/redirect';

export type QueryState<T> =
  { status: 'loading' } | { status: 'ok'; data: T } | { status: 'error'; error: Error };

export function useApiQuery<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: DependencyList,
): [QueryState<T>, () => void] {
  const [state, setState] = useState<QueryState<T>>({ status: 'loading' });
  const [attempt, setAttempt] = useState(0);
  const navigate = useNavigate();
  const { setUser } = useSession();
  const lastAttempt = useRef(attempt);

  useEffect(() => {
    const controller = new AbortController();
    const refresh = lastAttempt.current !== attempt;
    lastAttempt.current = attempt;
    setState((current) => (refresh && current.status === 'ok' ? current : { status: 'loading' }));
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) {
          setState({ status: 'ok', data });
        }
      },
      (error: unknown) => {
        if (controller.signal.aborted) {
          return;
        }
        if (error instanceof ApiError && error.status === 401) {
          setUser(null);
          const here = window.location.pathname + window.location.search;
          void navigate(loginPathFor(here), { replace: true });
          return;
        }
        setState({
          status: 'error',
          error: error instanceof Error ? error : new Error(String(error)),
        });
      },
    );
    return () => controller.abort();
    // `load` is rebuilt every render; the caller's deps say when it really changes.
  }, [...deps, attempt]);

  const retry = useCallback(() => setAttempt((n) => n + 1), []);
  return [state, retry];
}
