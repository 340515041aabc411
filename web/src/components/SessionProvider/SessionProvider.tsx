import { createContext, useContext, useMemo, useState } from 'react';
import type { ReactNode } from 'react';

import type { User } from '../../api/types';

interface SessionContextValue {
  /** undefined: not checked yet; null: signed out. */
  user: User | null | undefined;
  setUser: (user: User | null) => void;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const value = useMemo(() => ({ user, setUser }), [user]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (value === null) {
    throw new Error('useSession must be used inside SessionProvider');
  }
  return value;
}

/** The signed-in user, for components that only render inside RequireSession. */
export function useCurrentUser(): User {
  const { user } = useSession();
  if (user == null) {
    throw new Error('useCurrentUser must be used inside RequireSession');
  }
  return user;
}
