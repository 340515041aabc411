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

/** Ask the agent to let only allowed executables start, where the scope says. */
export function RestrictDialog({ device, onClose, onRequested }: RestrictDialogProps) {
  const [hashes, setHashes] = useState('');
  const [paths, setPaths] = useState('');
  const [scope, setScope] = useState('');
  const [checked, setChecked] = useState(false);
  const form = restrictParameters(hashes, paths, scope);
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
        label="Where to enforce"
        hint="Directories or mount points, one absolute path per line. Left empty, every local filesystem of the device."
        validationState={errors['scope'] ? 'error' : 'none'}
        validationMessage={errors['scope']}
      >
        <Textarea
          value={scope}
          onChange={(_, data) => setScope(data.value)}
          resize="vertical"
          data-testid="restrict-scope"
        />
      </Field>
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
