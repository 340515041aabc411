import {
  Button,
  Menu,
  MenuItemCheckbox,
  MenuList,
  MenuPopover,
  MenuTrigger,
} from '@fluentui/react-components';
import { ColumnTripleEditRegular } from '@fluentui/react-icons';

interface ChooserColumn {
  id: string;
  label: string;
  alwaysVisible?: boolean;
}

interface ColumnChooserProps {
  columns: readonly ChooserColumn[];
  visible: readonly string[];
  onChange: (columnId: string, visible: boolean) => void;
}

/** A menu of the table's columns, each checked when shown. */
export function ColumnChooser({ columns, visible, onChange }: ColumnChooserProps) {
  return (
    <Menu
      checkedValues={{ columns: [...visible] }}
      onCheckedValueChange={(_, data) => {
        const now = new Set(data.checkedItems);
        for (const column of columns) {
          if (now.has(column.id) !== visible.includes(column.id)) {
            onChange(column.id, now.has(column.id));
          }
        }
      }}
    >
      <MenuTrigger disableButtonEnhancement>
        <Button icon={<ColumnTripleEditRegular />} data-testid="column-chooser">
          Columns
        </Button>
      </MenuTrigger>
      <MenuPopover>
        <MenuList>
          {columns.map((column) => (
            <MenuItemCheckbox
              key={column.id}
              name="columns"
              value={column.id}
              disabled={column.alwaysVisible === true}
              data-testid={`column-choice-${column.id}`}
            >
              {column.label}
            </MenuItemCheckbox>
          ))}
        </MenuList>
      </MenuPopover>
    </Menu>
  );
}
