import { compileNetworkRules, networkRules, NetworkRulesInputSchema, NetworkRulesSchema, rulesAdmit, type NetworkRules } from '../../../settings/network-rules.js';
import type { SettingsStore } from '../../../settings/settings-store.js';
import { ApiError } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { answerSchema } from '../schemas.js';
import { explainSettingsBody, setVersionTag, versionedChange } from './settings-http.js';

const RulesAnswer = answerSchema(NetworkRulesSchema);

/**
 * `/v1/network/access-rules`: per service (api, s3, nfs, smb, ftp), the addresses allowed to
 * connect; NetworkAccess enforces them when connections are accepted. A change whose API list
 * would refuse the caller's own address is refused (409) unless it says `force: true`, so an
 * administrator does not lock themself out by mistake.
 */
export interface NetworkRoutesDeps {
  readonly settings: SettingsStore;
}

function refuseSelfLockout(next: NetworkRules, callerAddress: string): void {
  if (rulesAdmit(compileNetworkRules(next), 'api', callerAddress)) return;
  throw new ApiError(
    409,
    'network_rules_lockout_error',
    `these rules would refuse your own address ${callerAddress} on the API (services.api.allow); add it, or send force: true to apply them anyway`,
  );
}

export function networkRoutes(deps: NetworkRoutesDeps): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/network/access-rules',
      privilege: 'NETWORK_READ',
      summary: 'The network access rules: per service, the addresses allowed to connect (an empty list allows any).',
      schema: { response: { 200: RulesAnswer } },
      handler: async (_request, reply) => {
        const current = await deps.settings.get(networkRules);
        setVersionTag(reply, current.version);
        return current.value;
      },
    },
    {
      method: 'PUT',
      url: '/v1/network/access-rules',
      privilege: 'NETWORK_WRITE',
      summary: 'Change the network access rules of the services named; the others keep theirs. Refused (409) if the API list would exclude the caller, unless force is true.',
      schema: { body: NetworkRulesInputSchema, response: { 200: RulesAnswer } },
      explainInvalidBody: (request) => explainSettingsBody(deps.settings, networkRules, request.body),
      handler: async (request, reply) => {
        const force = typeof request.body === 'object' && request.body !== null && (request.body as { force?: unknown }).force === true;
        const next = await versionedChange(request, (options) =>
          deps.settings.put(networkRules, request.body, { ...options, ...(force ? {} : { check: (value: NetworkRules) => refuseSelfLockout(value, request.ip) }) }),
        );
        setVersionTag(reply, next.version);
        return next.value;
      },
    },
  ];
}
