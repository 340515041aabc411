// Which colour theme to show: the user's last choice, else what their system prefers.

export type ThemeName = 'light' | 'dark';

export const THEME_STORAGE_KEY = 'hostwatch.theme';

export function initialTheme(stored: string | null, systemPrefersDark: boolean): ThemeName {
  if (stored === 'light' || stored === 'dark') {
    return stored;
  }
  return systemPrefersDark ? 'dark' : 'light';
}

export function otherTheme(theme: ThemeName): ThemeName {
  return theme === 'dark' ? 'light' : 'dark';
}
