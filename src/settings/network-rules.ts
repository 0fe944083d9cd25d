import Type, { type Static } from 'typebox';
import { FsError } from '../core/errors.js';
import { AddressMatcher, parseAddressRules } from './address-rules.js';
import { checkSchema, SettingsTag, type SingletonDefinition } from './settings-store.js';

/**
 * Network access rules: per service, the addresses allowed to connect (the white paper's network
 * security group, inside the product). An empty list allows any address (the default, so a fresh
 * instance is reachable); otherwise only addresses matching an entry (IP, CIDR subnet or range).
 * A change names the services it changes; the others keep their lists.
 */

export const NETWORK_SERVICES = ['api', 's3', 'nfs', 'smb', 'ftp'] as const;
export type NetworkService = (typeof NETWORK_SERVICES)[number];
export const ALLOW_ENTRIES_MAX = 1_000;

const ServiceRulesSchema = Type.Object(
  { allow: Type.Array(Type.String(), { maxItems: ALLOW_ENTRIES_MAX, description: 'IP addresses, CIDR subnets or ranges (a-b); empty allows any address.' }) },
  { additionalProperties: false },
);

export const NetworkRulesSchema = Type.Object(
  {
    services: Type.Object(
      { api: ServiceRulesSchema, s3: ServiceRulesSchema, nfs: ServiceRulesSchema, smb: ServiceRulesSchema, ftp: ServiceRulesSchema },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type NetworkRules = Static<typeof NetworkRulesSchema>;

export const NetworkRulesInputSchema = Type.Object(
  {
    services: Type.Partial(
      Type.Object({ api: ServiceRulesSchema, s3: ServiceRulesSchema, nfs: ServiceRulesSchema, smb: ServiceRulesSchema, ftp: ServiceRulesSchema }, { additionalProperties: false }),
    ),
    force: Type.Optional(Type.Boolean({ description: 'Apply even if the API list would refuse the caller\'s own address.' })),
  },
  { additionalProperties: false },
);
export type NetworkRulesInput = Static<typeof NetworkRulesInputSchema>;

export const networkRules: SingletonDefinition<NetworkRules> = {
  tag: SettingsTag.networkRules,
  title: 'network access rules',
  defaults: () => ({ services: { api: { allow: [] }, s3: { allow: [] }, nfs: { allow: [] }, smb: { allow: [] }, ftp: { allow: [] } } }),
  parse: (input, current) => {
    checkSchema(NetworkRulesInputSchema, input, 'network_rules');
    const next: NetworkRules = { services: { ...current.services, ...(input as NetworkRulesInput).services } };
    checkSchema(NetworkRulesSchema, next, 'network_rules');
    compileNetworkRules(next);
    return next;
  },
};

/** One matcher per service, from validated rules. Throws InvalidArgument naming the entry. */
export function compileNetworkRules(rules: NetworkRules): Record<NetworkService, AddressMatcher> {
  const compiled = {} as Record<NetworkService, AddressMatcher>;
  for (const service of NETWORK_SERVICES) {
    const allow = rules.services[service].allow;
    compiled[service] = new AddressMatcher(parseAddressRules(allow, { allowHostnames: false, field: `services.${service}.allow` }));
  }
  return compiled;
}

/** Whether rules admit an address to a service: an empty list admits any address. */
export function rulesAdmit(matchers: Record<NetworkService, AddressMatcher>, service: NetworkService, remoteAddress: string | undefined): boolean {
  const matcher = matchers[service];
  return matcher.isEmpty || matcher.matchesAddress(remoteAddress);
}

export function isNetworkService(value: string): value is NetworkService {
  return (NETWORK_SERVICES as readonly string[]).includes(value);
}

export function assertNetworkService(value: string): NetworkService {
  if (!isNetworkService(value)) throw new FsError('InvalidArgument', `unknown service ${value}`);
  return value;
}
