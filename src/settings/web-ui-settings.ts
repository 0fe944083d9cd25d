import Type, { type Static } from 'typebox';
import { FsError } from '../core/errors.js';
import { checkSchema, mergeObject, SettingsTag, type SettingsStore, type SingletonDefinition, type Versioned, type WriteOptions } from './settings-store.js';

/**
 * Web UI settings: a login banner that users must acknowledge before signing in (`GET
 * /v1/session/login` shows it; the login then needs `banner_acknowledged: true`), and the
 * inactivity timeout: the server refuses (401) a session not used for longer, so the user must log
 * in again (identity/sessions.ts). It applies to every management session, the CLI's too; access
 * tokens, the credential for automation, are not affected.
 */

export const LOGIN_BANNER_CHARS_MAX = 10_000;

export const WebUiSettingsSchema = Type.Object(
  {
    login_banner: Type.Object(
      {
        enabled: Type.Boolean({ default: false }),
        text: Type.String({ maxLength: LOGIN_BANNER_CHARS_MAX, description: 'Shown on the login page (plain text or Markdown), at most 10,000 characters.' }),
      },
      { additionalProperties: false },
    ),
    inactivity_timeout_minutes: Type.Integer({ minimum: 1, maximum: 1_440, default: 15, description: 'A session not used for this long is refused (401) and its user must log in again.' }),
  },
  { additionalProperties: false },
);
export type WebUiSettingsValue = Static<typeof WebUiSettingsSchema>;

export const webUiSettings: SingletonDefinition<WebUiSettingsValue> = {
  tag: SettingsTag.webUi,
  title: 'web UI settings',
  defaults: () => ({ login_banner: { enabled: false, text: '' }, inactivity_timeout_minutes: 15 }),
  parse: (input, current) => {
    const next = mergeObject(input, current, 'web UI settings');
    checkSchema(WebUiSettingsSchema, next, 'web_ui_settings');
    if (next.login_banner.enabled && next.login_banner.text.trim() === '') {
      throw new FsError('InvalidArgument', 'web_ui_settings.login_banner: an enabled banner needs a text');
    }
    return next;
  },
};

export class WebUiSettings {
  constructor(private readonly store: SettingsStore) {}

  get(): Promise<Versioned<WebUiSettingsValue>> {
    return this.store.get(webUiSettings);
  }

  put(input: unknown, options?: WriteOptions): Promise<Versioned<WebUiSettingsValue>> {
    return this.store.put(webUiSettings, input, options);
  }

  /** What the login page shows before anyone signs in. */
  async loginBanner(): Promise<{ enabled: boolean; text: string }> {
    const { login_banner } = (await this.get()).value;
    return login_banner.enabled ? { enabled: true, text: login_banner.text } : { enabled: false, text: '' };
  }

  async inactivityTimeoutMs(): Promise<number> {
    return (await this.get()).value.inactivity_timeout_minutes * 60_000;
  }

  /** True when a login must carry `banner_acknowledged: true`. */
  async bannerRequired(): Promise<boolean> {
    return (await this.get()).value.login_banner.enabled;
  }
}
