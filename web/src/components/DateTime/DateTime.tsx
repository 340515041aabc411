import { formatLocalTime, formatRelativeTime, formatUtcTime, parseApiTime } from '../../lib/format';
import { NotKnown } from '../NotKnown/NotKnown';

interface DateTimeProps {
  value: string | null | undefined;
  /** Show "3 minutes ago" instead of the date; the full times stay in the tooltip. */
  relative?: boolean;
  missing?: string;
}

/** A time in the viewer's zone, with the UTC time on hover. */
export function DateTime({ value, relative = false, missing }: DateTimeProps) {
  if (value == null || value === '') {
    return <NotKnown>{missing}</NotKnown>;
  }
  const date = parseApiTime(value);
  if (date === null) {
    return <span title="Not a valid time">{value}</span>;
  }
  const local = formatLocalTime(date);
  const utc = formatUtcTime(date);
  return (
    <time dateTime={date.toISOString()} title={relative ? `${local} (${utc})` : utc}>
      {relative ? formatRelativeTime(date) : local}
    </time>
  );
}
