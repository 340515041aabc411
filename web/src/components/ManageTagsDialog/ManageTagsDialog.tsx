import {
  Button,
  Caption1,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  Tag,
  TagGroup,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState } from 'react';
import type { FormEvent } from 'react';

import { addTags, removeTag } from '../../api/client';
import type { DeviceDetail } from '../../api/types';
import { NotKnown } from '../NotKnown/NotKnown';
import { TagList } from '../TagList/TagList';

const useStyles = makeStyles({
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  addRow: { display: 'flex', gap: tokens.spacingHorizontalS, alignItems: 'flex-end' },
  grow: { flexGrow: 1 },
  group: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS },
  muted: { color: tokens.colorNeutralForeground3 },
});

interface ManageTagsDialogProps {
  device: DeviceDetail;
  onClose: () => void;
  onChanged: () => void;
}

/** Add and remove a device's user tags; system tags are Hostwatch's, shown but not removable. */
export function ManageTagsDialog({ device, onClose, onChanged }: ManageTagsDialogProps) {
  const styles = useStyles();
  const [tags, setTags] = useState(device.tags.filter((tag) => tag.kind === 'user'));
  const systemTags = device.tags.filter((tag) => tag.kind === 'system');
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
      onChanged();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };

  const add = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const name = text.trim();
    if (name === '') return;
    void run(async () => {
      const all = await addTags(device.id, [name]);
      setTags(all.filter((tag) => tag.kind === 'user'));
      setText('');
    });
  };

  const remove = (name: string) =>
    void run(async () => {
      await removeTag(device.id, name);
      setTags((current) => current.filter((tag) => tag.name !== name));
    });

  return (
    <Dialog open onOpenChange={(_, data) => !data.open && onClose()}>
      <DialogSurface data-testid="manage-tags-dialog">
        <DialogBody>
          <DialogTitle>Manage tags of {device.name}</DialogTitle>
          <DialogContent className={styles.content}>
            {error !== null && (
              <MessageBar intent="error" layout="multiline">
                <MessageBarBody>The tags were not changed: {error}</MessageBarBody>
              </MessageBar>
            )}
            {systemTags.length > 0 && (
              <div className={styles.group} data-testid="manage-tags-system">
                <Caption1 className={styles.muted}>
                  System tags, set by Hostwatch; they cannot be removed here
                </Caption1>
                <TagList tags={systemTags} />
              </div>
            )}
            {tags.length === 0 ? (
              <NotKnown>No user tags on this device yet</NotKnown>
            ) : (
              <TagGroup aria-label="User tags" onDismiss={(_, data) => remove(String(data.value))}>
                {tags.map((tag) => (
                  <Tag
                    key={tag.name}
                    value={tag.name}
                    dismissible
                    dismissIcon={{ 'aria-label': `Remove tag ${tag.name}` }}
                    disabled={busy}
                  >
                    {tag.name}
                  </Tag>
                ))}
              </TagGroup>
            )}
            <form className={styles.addRow} onSubmit={add}>
              <Field
                label="New tag"
                hint="Letters, digits, spaces and . : @ + - _"
                className={styles.grow}
              >
                <Input
                  value={text}
                  maxLength={64}
                  onChange={(_, data) => setText(data.value)}
                  data-testid="new-tag"
                />
              </Field>
              <Button type="submit" disabled={busy || text.trim() === ''} data-testid="add-tag">
                Add
              </Button>
            </form>
          </DialogContent>
          <DialogActions>
            <Button appearance="primary" onClick={onClose} data-testid="manage-tags-done">
              Done
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
