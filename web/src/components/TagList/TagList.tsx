import { Tag, Tooltip, makeStyles, tokens } from '@fluentui/react-components';
import { LockClosedRegular } from '@fluentui/react-icons';

import type { Tag as DeviceTag } from '../../api/types';

const useStyles = makeStyles({
  root: {
    display: 'flex',
    flexWrap: 'wrap',
    gap: tokens.spacingHorizontalXS,
    margin: 0,
    padding: 0,
    listStyleType: 'none',
  },
  more: { color: tokens.colorNeutralForeground3, alignSelf: 'center' },
  hidden: {
    position: 'absolute',
    width: '1px',
    height: '1px',
    overflow: 'hidden',
    clipPath: 'inset(50%)',
    whiteSpace: 'nowrap',
  },
});

interface TagListProps {
  tags: DeviceTag[];
  /** Show at most this many, then "+N more". */
  limit?: number;
  size?: 'extra-small' | 'small' | 'medium';
}

/**
 * Device tags. System tags (set by Hostwatch) carry a lock icon, a filled look and the words
 * "system tag" for screen readers; user tags are outlined.
 */
export function TagList({ tags, limit, size = 'small' }: TagListProps) {
  const styles = useStyles();
  const shown = limit === undefined ? tags : tags.slice(0, limit);
  const hiddenCount = tags.length - shown.length;
  return (
    <ul className={styles.root}>
      {shown.map((tag) => (
        <li key={`${tag.kind}:${tag.name}`}>
          {tag.kind === 'system' ? (
            <Tooltip content="System tag, set by Hostwatch" relationship="description">
              <Tag size={size} appearance="brand" icon={<LockClosedRegular />}>
                {tag.name}
                <span className={styles.hidden}> (system tag)</span>
              </Tag>
            </Tooltip>
          ) : (
            <Tag size={size} appearance="outline">
              {tag.name}
            </Tag>
          )}
        </li>
      ))}
      {hiddenCount > 0 && (
        <li className={styles.more} title={tags.map((tag) => tag.name).join(', ')}>
          +{hiddenCount} more
        </li>
      )}
    </ul>
  );
}
