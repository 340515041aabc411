import { BrowserRouter, Navigate, Route, Routes } from 'react-router';

import { AppShell } from './components/AppShell/AppShell';
import { PreferencesProvider } from './components/PreferencesProvider/PreferencesProvider';
import { RequireSession } from './components/RequireSession/RequireSession';
import { SessionProvider } from './components/SessionProvider/SessionProvider';
import { ThemeProvider } from './components/ThemeProvider/ThemeProvider';
import { ActionsPage } from './pages/ActionsPage/ActionsPage';
import { AlertsPage } from './pages/AlertsPage/AlertsPage';
import { DeviceListPage } from './pages/DeviceListPage/DeviceListPage';
import { DevicePage } from './pages/DevicePage/DevicePage';
import { IncidentsPage } from './pages/IncidentsPage/IncidentsPage';
import { LoginPage } from './pages/LoginPage/LoginPage';
import { NotFoundPage } from './pages/NotFoundPage/NotFoundPage';

export function App() {
  return (
    <ThemeProvider>
      <SessionProvider>
        <BrowserRouter>
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route
              element={
                <RequireSession>
                  <PreferencesProvider>
                    <AppShell />
                  </PreferencesProvider>
                </RequireSession>
              }
            >
              <Route index element={<Navigate to="/devices" replace />} />
              <Route path="/devices" element={<DeviceListPage />} />
              <Route path="/devices/:id" element={<DevicePage />} />
              <Route path="/alerts" element={<AlertsPage />} />
              <Route path="/incidents" element={<IncidentsPage />} />
              <Route path="/actions" element={<ActionsPage />} />
              <Route path="*" element={<NotFoundPage />} />
            </Route>
          </Routes>
        </BrowserRouter>
      </SessionProvider>
    </ThemeProvider>
  );
}
