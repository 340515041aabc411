import { Body1, Field, Textarea } from '@fluentui/react-components';
import { useState } from 'react';

import type { ActionDetail, DeviceDetail, RestrictParameters } from '../../api/types';
import { ActionRequestDialog } from './ActionRequestDialog';
import { restrictParameters } from './actionForms';

interface RestrictDialogProps {
  device: DeviceDetail;
  onClose: () => void;
  onRequested: (action: ActionDetail) => void;
}

/**
 * Ask the agent to let only allowed executables start.
 * Limitation: RestrictParameters' `scope` (directories to enforce on) is not offered; the
 * agent enforces on every local filesystem it can mark.
 */
export function RestrictDialog({ device, onClose, onRequested }: RestrictDialogProps) {
  const [hashes, setHashes] = useState('');
  const [paths, setPaths] = useState('');
  const [checked, setChecked] = useState(false);
  const form = restrictParameters(hashes, paths);
  const errors = checked ? form.errors : {};

  return (
    <ActionRequestDialog<RestrictParameters>
      device={device}
      type="restrict_app_execution"
      title="Restrict app execution"
      submitLabel="Restrict"
      testId="restrict-dialog"
      onClose={onClose}
      onRequested={onRequested}
      parameters={() => {
        setChecked(true);
        return form;
      }}
      description={
        <Body1>
          Only executables installed by the operating system&apos;s packages with their content
          unchanged, the ones allowed below, and the Hostwatch agent itself may start; the kernel
          refuses every other. Blocked attempts become events on the device&apos;s timeline.
        </Body1>
      }
    >
      <Field
        label="Allowed SHA-256 hashes"
        hint="One per line, 64 hexadecimal digits."
        validationState={errors['allow_sha256'] ? 'error' : 'none'}
        validationMessage={errors['allow_sha256']}
      >
        <Textarea
          value={hashes}
          onChange={(_, data) => setHashes(data.value)}
          resize="vertical"
          data-testid="restrict-sha256"
        />
      </Field>
      <Field
        label="Allowed paths"
        hint="One absolute path per line."
        validationState={errors['allow_paths'] ? 'error' : 'none'}
        validationMessage={errors['allow_paths']}
      >
        <Textarea
          value={paths}
          onChange={(_, data) => setPaths(data.value)}
          resize="vertical"
          data-testid="restrict-paths"
        />
      </Field>
    </ActionRequestDialog>
  );
}
