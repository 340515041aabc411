import {
  Button,
  DrawerBody,
  DrawerHeader,
  DrawerHeaderTitle,
  OverlayDrawer,
} from '@fluentui/react-components';
import { DismissRegular } from '@fluentui/react-icons';
import type { ReactNode } from 'react';

interface FlyoutProps {
  open: boolean;
  /** Wider for content that needs room, such as a process tree. */
  size?: 'medium' | 'large';
  title: ReactNode;
  onClose: () => void;
  children: ReactNode;
}

/**
 * One item's full details, over the side of the page, without leaving the tab. Which item
 * is open lives in the address (the table's `item` parameter), so the view can be linked.
 */
export function Flyout({ open, size = 'medium', title, onClose, children }: FlyoutProps) {
  // A closed drawer is not rendered at all: mounted but closed, it still registers focus
  // management that leaves hidden focusable elements in the page, which screen readers and
  // accessibility checkers trip over.
  if (!open) return null;
  return (
    <OverlayDrawer
      open={open}
      position="end"
      size={size}
      onOpenChange={(_, data) => {
        if (!data.open) onClose();
      }}
      data-testid="flyout"
    >
      <DrawerHeader>
        <DrawerHeaderTitle
          action={
            <Button
              appearance="subtle"
              aria-label="Close"
              icon={<DismissRegular />}
              onClick={onClose}
              data-testid="flyout-close"
            />
          }
        >
          {title}
        </DrawerHeaderTitle>
      </DrawerHeader>
      <DrawerBody>{children}</DrawerBody>
    </OverlayDrawer>
  );
}
