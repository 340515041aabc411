import { Body1, Field, Radio, RadioGroup, Textarea } from '@fluentui/react-components';
import { useState } from 'react';

import type { ActionDetail, DeviceDetail, IsolateParameters } from '../../api/types';
import { ActionRequestDialog } from './ActionRequestDialog';
import { isolateParameters } from './actionForms';

interface IsolateDialogProps {
  device: DeviceDetail;
  onClose: () => void;
  onRequested: (action: ActionDetail) => void;
}

/** Ask the agent to isolate the device: fully, or letting listed users and cgroups through. */
export function IsolateDialog({ device, onClose, onRequested }: IsolateDialogProps) {
  const [mode, setMode] = useState<'full' | 'selective'>('full');
  const [users, setUsers] = useState('');
  const [cgroups, setCgroups] = useState('');
  const [checked, setChecked] = useState(false);
  const form = isolateParameters(mode, users, cgroups);
  const errors = checked ? form.errors : {};

  return (
    <ActionRequestDialog<IsolateParameters>
      device={device}
      type="isolate"
      title="Isolate device"
      submitLabel="Isolate"
      testId="isolate-dialog"
      onClose={onClose}
      onRequested={onRequested}
      parameters={() => {
        setChecked(true);
        return form;
      }}
      description={
        <Body1>
          The agent drops all network traffic of the device except loopback, the connections it must
          keep, and this Hostwatch server, so it goes on reporting and can be released from here.
          The device is shown isolated once its agent has verified the rules in place.
        </Body1>
      }
    >
      <Field label="Isolation">
        <RadioGroup
          value={mode}
          onChange={(_, data) => setMode(data.value as 'full' | 'selective')}
          data-testid="isolation-mode"
        >
          <Radio value="full" label="Full: nothing else gets through" />
          <Radio
            value="selective"
            label="Selective: also let the traffic of listed users and cgroups through"
          />
        </RadioGroup>
      </Field>
      {mode === 'selective' && (
        <>
          <Field
            label="Allowed users"
            hint="One user name or numeric uid per line; their processes' traffic is let through."
            validationState={errors['allow_users'] ? 'error' : 'none'}
            validationMessage={errors['allow_users']}
          >
            <Textarea
              value={users}
              onChange={(_, data) => setUsers(data.value)}
              resize="vertical"
              data-testid="isolation-users"
            />
          </Field>
          <Field
            label="Allowed cgroups"
            hint="One cgroup v2 path per line, such as system.slice/postfix.service (nftables matches a socket's user and cgroup, not its executable)."
            validationState={errors['allow_cgroups'] ? 'error' : 'none'}
            validationMessage={errors['allow_cgroups']}
          >
            <Textarea
              value={cgroups}
              onChange={(_, data) => setCgroups(data.value)}
              resize="vertical"
              data-testid="isolation-cgroups"
            />
          </Field>
        </>
      )}
    </ActionRequestDialog>
  );
}
