import { Link } from '@fluentui/react-components';
import type { ReactNode } from 'react';
import { useHref, useLinkClickHandler } from 'react-router';

interface AppLinkProps {
  to: string;
  children: ReactNode;
  className?: string;
  tabIndex?: number;
  'aria-label'?: string;
}

/** A Fluent link that moves inside the app without reloading the page. */
export function AppLink({ to, children, ...rest }: AppLinkProps) {
  const href = useHref(to);
  const handleClick = useLinkClickHandler<HTMLAnchorElement>(to);
  return (
    <Link as="a" {...rest} href={href} onClick={handleClick}>
      {children}
    </Link>
  );
}
