import type { WebUiSettings } from '../../../settings/web-ui-settings.js';
import { PUBLIC, type ApiRoute } from '../route.js';
import { setVersionTag, versionedChange } from './settings-http.js';

/**
 * Web UI settings (login banner, inactivity timeout), and the banner alone without
 * authentication: the login page shows it before anyone signs in.
 */
export interface WebUiRoutesDeps {
  readonly webUi: WebUiSettings;
}

export function webUiRoutes(deps: WebUiRoutesDeps): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/web-ui/settings',
      privilege: 'SECURITY_READ',
      summary: 'The web UI settings: login banner and inactivity timeout.',
      handler: async (_request, reply) => {
        const current = await deps.webUi.get();
        setVersionTag(reply, current.version);
        return current.value;
      },
    },
    {
      method: 'PUT',
      url: '/v1/web-ui/settings',
      privilege: 'SECURITY_WRITE',
      summary: 'Change the web UI settings; the fields given change, the others keep their values.',
      handler: async (request, reply) => {
        const next = await versionedChange(request, (options) => deps.webUi.put(request.body, options));
        setVersionTag(reply, next.version);
        return next.value;
      },
    },
    {
      method: 'GET',
      url: '/v1/web-ui/login-banner',
      privilege: PUBLIC,
      summary: 'The login banner, for the login page (no authentication). When enabled, a login must acknowledge it.',
      handler: async () => deps.webUi.loginBanner(),
    },
  ];
}
