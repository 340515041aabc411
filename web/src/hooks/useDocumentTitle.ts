import { useEffect } from 'react';

/** Set the browser tab title, such as "Devices · Hostwatch". */
export function useDocumentTitle(title: string | null): void {
  useEffect(() => {
    document.title = title === null ? 'Hostwatch' : `${title} · Hostwatch`;
  }, [title]);
}
