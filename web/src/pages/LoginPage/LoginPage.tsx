import {
  Button,
  Card,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  Title2,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { ShieldCheckmarkRegular } from '@fluentui/react-icons';
import { useState } from 'react';
import type { FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';

import { ApiError, login } from '../../api/client';
import { useSession } from '../../components/SessionProvider/SessionProvider';
import { useDocumentTitle } from '../../hooks/useDocumentTitle';
import { safeNextPath } from '../../lib/redirect';

const useStyles = makeStyles({
  page: {
    flexGrow: 1,
    display: 'flex',
    alignItems: 'center',
    justifyContent: 'center',
    padding: tokens.spacingHorizontalL,
    backgroundColor: tokens.colorNeutralBackground2,
  },
  card: { width: '100%', maxWidth: '360px', padding: tokens.spacingHorizontalXXL },
  heading: {
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalS,
    margin: 0,
  },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL },
});

interface LoginFailure {
  /** null when only fields are wrong. */
  message: string | null;
  /** 429: too many failed logins; the message says when to try again. */
  throttled: boolean;
  fields: Record<string, string>;
}

function failureFrom(error: unknown): LoginFailure {
  if (error instanceof ApiError) {
    const fields: Record<string, string> = {};
    for (const item of error.problem.errors ?? []) {
      fields[item.field] = item.message;
    }
    return { message: error.message, throttled: error.status === 429, fields };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message, throttled: false, fields: {} };
}

export function LoginPage() {
  useDocumentTitle('Sign in');
  const styles = useStyles();
  const navigate = useNavigate();
  const [searchParams] = useSearchParams();
  const { setUser } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [submitting, setSubmitting] = useState(false);
  const [failure, setFailure] = useState<LoginFailure | null>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const missing: Record<string, string> = {};
    if (username.trim() === '') {
      missing['username'] = 'Enter your username.';
    }
    if (password === '') {
      missing['password'] = 'Enter your password.';
    }
    if (Object.keys(missing).length > 0) {
      setFailure({ message: null, throttled: false, fields: missing });
      return;
    }
    setSubmitting(true);
    setFailure(null);
    try {
      const answer = await login({ username, password });
      setUser(answer.user);
      void navigate(safeNextPath(searchParams.get('next')), { replace: true });
    } catch (error) {
      setFailure(failureFrom(error));
      setPassword('');
      setSubmitting(false);
    }
  };

  return (
    <div className={styles.page}>
      <Card className={styles.card}>
        <Title2 as="h1" className={styles.heading}>
          <ShieldCheckmarkRegular aria-hidden />
          Hostwatch
        </Title2>
        <form className={styles.form} onSubmit={(event) => void submit(event)} noValidate>
          {failure?.message != null && (
            <MessageBar intent={failure.throttled ? 'warning' : 'error'} layout="multiline">
              <MessageBarBody data-testid="login-error">{failure.message}</MessageBarBody>
            </MessageBar>
          )}
          <Field
            label="Username"
            required
            validationMessage={failure?.fields['username']}
            validationState={failure?.fields['username'] === undefined ? 'none' : 'error'}
          >
            <Input
              value={username}
              onChange={(_, data) => setUsername(data.value)}
              autoComplete="username"
              autoFocus
              data-testid="login-username"
            />
          </Field>
          <Field
            label="Password"
            required
            validationMessage={failure?.fields['password']}
            validationState={failure?.fields['password'] === undefined ? 'none' : 'error'}
          >
            <Input
              type="password"
              value={password}
              onChange={(_, data) => setPassword(data.value)}
              autoComplete="current-password"
              data-testid="login-password"
            />
          </Field>
          <Button
            type="submit"
            appearance="primary"
            disabled={submitting}
            data-testid="login-submit"
          >
            {submitting ? 'Signing in…' : 'Sign in'}
          </Button>
        </form>
      </Card>
    </div>
  );
}
