import { Link } from '@fluentui/react-components';
import type { MouseEvent, ReactNode } from 'react';
import { useHref, useNavigate } from 'react-router';

interface FlyoutLinkProps {
  to: string;
  /** Closes the flyout the link is in. */
  onLeave: () => void;
  children: ReactNode;
}

// Longest wait for the page to be shown again before leaving anyway.
const SHOWN_WAIT_MS = 1000;
const POLL_MS = 50;

/** Calls `then` once the app's root is no longer hidden by the modal (or after a second). */
function whenPageShown(then: () => void, deadline: number = Date.now() + SHOWN_WAIT_MS): void {
  const root = document.getElementById('root');
  if (root === null || root.getAttribute('aria-hidden') !== 'true' || Date.now() > deadline) {
    then();
    return;
  }
  window.setTimeout(() => whenPageShown(then, deadline), POLL_MS);
}

function opensElsewhere(event: MouseEvent): boolean {
  return event.button !== 0 || event.metaKey || event.altKey || event.ctrlKey || event.shiftKey;
}

/**
 * A link out of a flyout to another page. The flyout is a modal drawer: while open, Fluent's
 * focus manager (tabster) marks the app's root aria-hidden, and lifts that a moment after the
 * drawer closes. Leaving the page with the drawer open, or before the mark is lifted, left
 * the next page hidden from assistive technology (and from role queries) for good. So the
 * flyout closes first, and the move waits until the page is shown again. A modified click
 * still opens a new tab as any link does.
 */
export function FlyoutLink({ to, onLeave, children }: FlyoutLinkProps) {
  const href = useHref(to);
  const navigate = useNavigate();
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (opensElsewhere(event)) return;
    event.preventDefault();
    onLeave();
    window.setTimeout(() => whenPageShown(() => void navigate(to)), 0);
  };
  return (
    <Link as="a" href={href} onClick={onClick}>
      {children}
    </Link>
  );
}
