import {
  Button,
  MessageBar,
  MessageBarActions,
  MessageBarBody,
  MessageBarTitle,
  makeStyles,
  tokens,
} from '@fluentui/react-components';

import { ApiError } from '../../api/client';

const useStyles = makeStyles({
  root: { margin: tokens.spacingVerticalL },
  line: { display: 'block' },
  requestId: { display: 'block', color: tokens.colorNeutralForeground3 },
});

interface ErrorStateProps {
  title: string;
  error: Error;
  onRetry?: () => void;
}

/** An error from a load, with the server's explanation and its request id for support. */
export function ErrorState({ title, error, onRetry }: ErrorStateProps) {
  const styles = useStyles();
  const problem = error instanceof ApiError ? error.problem : undefined;
  const requestId = problem?.request_id;
  return (
    <MessageBar intent="error" layout="multiline" className={styles.root}>
      <MessageBarBody>
        <MessageBarTitle>{title}</MessageBarTitle>
        {error.message}
        {problem?.hint !== undefined && <span className={styles.line}>{problem.hint}</span>}
        {requestId !== undefined && (
          <span className={styles.requestId}>Request id: {requestId}</span>
        )}
      </MessageBarBody>
      {onRetry !== undefined && (
        <MessageBarActions>
          <Button onClick={onRetry}>Try again</Button>
        </MessageBarActions>
      )}
    </MessageBar>
  );
}
