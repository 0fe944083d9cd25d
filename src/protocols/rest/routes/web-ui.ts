import { SessionSettingsSchema, sessionSettings } from '../../../settings/session-settings.js';
import type { SettingsStore } from '../../../settings/settings-store.js';
import { WebUiSettingsSchema, webUiSettings } from '../../../settings/web-ui-settings.js';
import type { ApiRoute } from '../route.js';
import { singletonRoutes } from './settings-http.js';

/**
 * Security settings of management sessions: the web UI settings (login banner, inactivity timeout)
 * and the session settings (lifetime). The banner is shown before login by `GET
 * /v1/session/login` (routes/session.ts), not here: these routes all need SECURITY_*.
 */
export interface WebUiRoutesDeps {
  readonly settings: SettingsStore;
}

export function webUiRoutes(deps: WebUiRoutesDeps): ApiRoute[] {
  const { settings } = deps;
  return [
    ...singletonRoutes({
      settings,
      definition: webUiSettings,
      url: '/v1/web-ui/settings',
      read: 'SECURITY_READ',
      write: 'SECURITY_WRITE',
      schema: WebUiSettingsSchema,
      what: 'The web UI settings: login banner and inactivity timeout (a session unused for longer is refused)',
    }),
    ...singletonRoutes({
      settings,
      definition: sessionSettings,
      url: '/v1/security/session-settings',
      read: 'SECURITY_READ',
      write: 'SECURITY_WRITE',
      schema: SessionSettingsSchema,
      what: 'The session settings: how long a session from login lives (default 10 hours)',
    }),
  ];
}
