import { Body1 } from '@fluentui/react-components';

import type { ActionDetail, DeviceDetail } from '../../api/types';
import { ActionRequestDialog } from './ActionRequestDialog';

interface UndoContainmentDialogProps {
  device: DeviceDetail;
  type: 'release_isolation' | 'remove_app_restriction';
  onClose: () => void;
  onRequested: (action: ActionDetail) => void;
}

const TEXT = {
  release_isolation: {
    title: 'Release from isolation',
    submit: 'Release',
    testId: 'release-dialog',
    description:
      'The agent removes the isolation rules it added, and nothing else: the device’s own firewall rules stay as they are.',
  },
  remove_app_restriction: {
    title: 'Remove app restriction',
    submit: 'Remove restriction',
    testId: 'unrestrict-dialog',
    description: 'The agent stops refusing executables: every program may start again.',
  },
} as const;

/** Undo a containment: release the isolation, or remove the app restriction. */
export function UndoContainmentDialog({
  device,
  type,
  onClose,
  onRequested,
}: UndoContainmentDialogProps) {
  const text = TEXT[type];
  return (
    <ActionRequestDialog<Record<string, never>>
      device={device}
      type={type}
      title={text.title}
      submitLabel={text.submit}
      testId={text.testId}
      onClose={onClose}
      onRequested={onRequested}
      parameters={() => ({ parameters: {}, errors: {} })}
      description={<Body1>{text.description}</Body1>}
    />
  );
}
