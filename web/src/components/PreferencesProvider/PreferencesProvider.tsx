import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import type { ReactNode } from 'react';

import { getPreferences, putPreferences } from '../../api/client';
import type { Preferences } from '../../api/types';

type Status = 'loading' | 'ready' | 'failed';

interface PreferencesContextValue {
  status: Status;
  preferences: Preferences | null;
  /** Why the last save failed, for the page to say; null when it did not. */
  saveError: string | null;
  /** Show the change at once and store it; on failure, go back and say so. */
  save: (change: (current: Preferences | null) => Preferences) => void;
}

const PreferencesContext = createContext<PreferencesContextValue | null>(null);

/** The signed-in user's page preferences (column choices), loaded once per sign-in. */
export function PreferencesProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<Status>('loading');
  const [preferences, setPreferences] = useState<Preferences | null>(null);
  const [saveError, setSaveError] = useState<string | null>(null);
  const latest = useRef<Preferences | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    getPreferences(controller.signal).then(
      (loaded) => {
        latest.current = loaded;
        setPreferences(loaded);
        setStatus('ready');
      },
      () => {
        // Tables still work with their default columns; choices are not remembered.
        if (!controller.signal.aborted) setStatus('failed');
      },
    );
    return () => controller.abort();
  }, []);

  const save = useCallback((change: (current: Preferences | null) => Preferences) => {
    const before = latest.current;
    const next = change(before);
    latest.current = next;
    setPreferences(next);
    setSaveError(null);
    putPreferences(next).then(
      (stored) => {
        if (latest.current === next) {
          latest.current = stored;
          setPreferences(stored);
        }
      },
      (error: unknown) => {
        if (latest.current === next) {
          latest.current = before;
          setPreferences(before);
        }
        setSaveError(error instanceof Error ? error.message : String(error));
      },
    );
  }, []);

  const value = useMemo(
    () => ({ status, preferences, saveError, save }),
    [status, preferences, saveError, save],
  );
  return <PreferencesContext.Provider value={value}>{children}</PreferencesContext.Provider>;
}

export function usePreferences(): PreferencesContextValue {
  const value = useContext(PreferencesContext);
  if (value === null) {
    throw new Error('usePreferences must be used inside PreferencesProvider');
  }
  return value;
}
