import Type, { type Static } from 'typebox';
import { FsError } from '../core/errors.js';
import { checkSchema, mergeObject, SettingsTag, type SettingsStore, type SingletonDefinition, type Versioned, type WriteOptions } from './settings-store.js';

/**
 * Web UI settings: a login banner that users must acknowledge before signing in (the login route
 * asks `bannerRequired()` and then needs `banner_acknowledged: true`), and the inactivity timeout
 * after which the web UI signs a user out.
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
    inactivity_timeout_minutes: Type.Integer({ minimum: 1, maximum: 1_440, default: 15, description: 'The web UI signs out after this long without activity.' }),
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

  /** True when a login must carry `banner_acknowledged: true`. */
  async bannerRequired(): Promise<boolean> {
    return (await this.get()).value.login_banner.enabled;
  }
}
