import Type, { type Static } from 'typebox';
import { checkSchema, mergeObject, SettingsTag, type SettingsStore, type SingletonDefinition, type Versioned, type WriteOptions } from './settings-store.js';

/**
 * Management session settings: how long a session from `POST /v1/session/login` lives (10 hours
 * unless an administrator changes it). A change applies to sessions created after it; a session
 * keeps the expiry it was signed with. The inactivity timeout after which an unused session ends
 * is a web UI setting (web-ui-settings.ts) and applies to every session.
 */

export const SESSION_LIFETIME_MINUTES_DEFAULT = 600;
/** Five minutes: shorter would end sessions in the middle of an upload or a posture review. */
export const SESSION_LIFETIME_MINUTES_MIN = 5;
/** Seven days: a longer-lived credential is an access token, which is listed and revocable. */
export const SESSION_LIFETIME_MINUTES_MAX = 10_080;

export const SessionSettingsSchema = Type.Object(
  {
    lifetime_minutes: Type.Integer({
      minimum: SESSION_LIFETIME_MINUTES_MIN,
      maximum: SESSION_LIFETIME_MINUTES_MAX,
      default: SESSION_LIFETIME_MINUTES_DEFAULT,
      description: 'How long a session lives after login, 5 minutes to 7 days (default 600: 10 hours). Applies to sessions created after a change.',
    }),
  },
  { additionalProperties: false },
);
export type SessionSettingsValue = Static<typeof SessionSettingsSchema>;

export const sessionSettings: SingletonDefinition<SessionSettingsValue> = {
  tag: SettingsTag.sessions,
  title: 'session settings',
  defaults: () => ({ lifetime_minutes: SESSION_LIFETIME_MINUTES_DEFAULT }),
  parse: (input, current) => {
    const next = mergeObject(input, current, 'session settings');
    checkSchema(SessionSettingsSchema, next, 'session_settings');
    return next;
  },
};

export class SessionSettings {
  constructor(private readonly store: SettingsStore) {}

  get(): Promise<Versioned<SessionSettingsValue>> {
    return this.store.get(sessionSettings);
  }

  put(input: unknown, options?: WriteOptions): Promise<Versioned<SessionSettingsValue>> {
    return this.store.put(sessionSettings, input, options);
  }

  async lifetimeMs(): Promise<number> {
    return (await this.get()).value.lifetime_minutes * 60_000;
  }
}
