/**
 * Bucket policies: a documented subset of the AWS policy language (docs/s3.md), parsed strictly —
 * an element or condition outside the subset is MalformedPolicy, never silently ignored, since an
 * ignored Deny or condition would grant more than its author meant.
 *
 *   { "Version": "2012-10-17", "Id"?: ..., "Statement": [ {
 *       "Sid"?: string, "Effect": "Allow" | "Deny",
 *       "Principal": "*" | { "AWS": "*" | name | "arn:aws:iam::enclave:user/<name>" | [...] },
 *       "Action": "s3:GetObject" | "s3:*" | "*" | [...],           (wildcards * and ?)
 *       "Resource": "arn:aws:s3:::<bucket>" | "arn:aws:s3:::<bucket>/<key pattern>" | [...],
 *       "Condition"?: { "IpAddress" | "NotIpAddress": { "aws:SourceIp": cidr | [...] },
 *                       "Bool": { "aws:SecureTransport": "true" | "false" } } } ] }
 *
 * Evaluation: a matching Deny wins; else a matching Allow; else no opinion. The server intersects
 * that with core ACLs: an authenticated caller is refused on Deny and otherwise goes through core
 * as themselves (a policy never grants what ACLs refuse); an anonymous caller is admitted only on
 * Allow for "*", and then goes through core as nobody (uid 65534).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { S3Error } from './errors.js';

export const POLICY_BYTES_MAX = 20 * 1024;
const USER_ARN_PREFIX = 'arn:aws:iam::enclave:user/';
const S3_ARN_PREFIX = 'arn:aws:s3:::';

type Condition = { readonly kind: 'ip'; readonly negated: boolean; readonly blocks: BlockList } | { readonly kind: 'secure'; readonly values: readonly boolean[] };

interface CompiledStatement {
  readonly effect: 'Allow' | 'Deny';
  /** '*' admits everyone, anonymous callers included; otherwise user names. */
  readonly principals: '*' | ReadonlySet<string>;
  readonly actions: readonly RegExp[];
  readonly resources: readonly RegExp[];
  readonly conditions: readonly Condition[];
}

export interface CompiledPolicy {
  readonly statements: readonly CompiledStatement[];
}

export interface PolicyRequest {
  /** The user name, or undefined for an anonymous request. */
  readonly user: string | undefined;
  readonly action: string;
  /** arn:aws:s3:::bucket or arn:aws:s3:::bucket/key */
  readonly resource: string;
  readonly sourceIp: string;
  readonly secureTransport: boolean;
}

const malformed = (why: string) => new S3Error('MalformedPolicy', why);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function stringList(value: unknown, what: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw malformed(`${what} must not be empty`);
  for (const item of list) if (typeof item !== 'string' || item === '') throw malformed(`${what} must be a string or a list of strings`);
  return list as string[];
}

function glob(pattern: string, caseInsensitive: boolean): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, caseInsensitive ? 'si' : 's');
}

function principalsOf(value: unknown): '*' | Set<string> {
  if (value === '*') return '*';
  if (!isObject(value)) throw malformed('Principal must be "*" or {"AWS": ...}');
  for (const name of Object.keys(value)) if (name !== 'AWS') throw malformed(`Invalid principal in policy: only "AWS" principals are supported, not ${JSON.stringify(name)}`);
  const names = stringList(value.AWS, 'Principal.AWS');
  if (names.includes('*')) return '*';
  const users = new Set<string>();
  for (const name of names) {
    const user = name.startsWith(USER_ARN_PREFIX) ? name.slice(USER_ARN_PREFIX.length) : name;
    if (user === '' || user.includes(':') || user.includes('/') || user.includes('*')) throw malformed(`Invalid principal in policy: ${JSON.stringify(name)} (a user name or ${USER_ARN_PREFIX}<name>)`);
    users.add(user);
  }
  return users;
}

function conditionsOf(value: unknown): Condition[] {
  if (value === undefined) return [];
  if (!isObject(value)) throw malformed('Condition must be an object');
  const conditions: Condition[] = [];
  for (const [operator, block] of Object.entries(value)) {
    if (!isObject(block)) throw malformed(`Condition ${operator} must be an object`);
    for (const [conditionKey, raw] of Object.entries(block)) {
      const keyName = conditionKey.toLowerCase();
      const values = stringList(typeof raw === 'boolean' ? String(raw) : raw, `Condition ${operator}.${conditionKey}`);
      if ((operator === 'IpAddress' || operator === 'NotIpAddress') && keyName === 'aws:sourceip') {
        const blocks = new BlockList();
        for (const cidr of values) {
          const [address, bits] = cidr.split('/') as [string, string | undefined];
          const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
          const max = family === 'ipv4' ? 32 : 128;
          const prefix = bits === undefined ? max : Number(bits);
          if (family === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d{1,3}$/.test(bits))) throw malformed(`Invalid IP address or CIDR in aws:SourceIp: ${JSON.stringify(cidr)}`);
          blocks.addSubnet(address, prefix, family);
        }
        conditions.push({ kind: 'ip', negated: operator === 'NotIpAddress', blocks });
      } else if (operator === 'Bool' && keyName === 'aws:securetransport') {
        const flags = values.map((text) => {
          if (text.toLowerCase() !== 'true' && text.toLowerCase() !== 'false') throw malformed('aws:SecureTransport takes "true" or "false"');
          return text.toLowerCase() === 'true';
        });
        conditions.push({ kind: 'secure', values: flags });
      } else {
        throw malformed(`Unsupported condition ${operator} on ${conditionKey}: this server supports IpAddress/NotIpAddress on aws:SourceIp and Bool on aws:SecureTransport`);
      }
    }
  }
  return conditions;
}

/** Parses and validates a policy for `bucket`; MalformedPolicy with the reason otherwise. */
export function compilePolicy(text: string, bucket: string): CompiledPolicy {
  if (Buffer.byteLength(text) > POLICY_BYTES_MAX) throw new S3Error('MalformedPolicy', `Policies are at most ${POLICY_BYTES_MAX} bytes`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw malformed('Policies must be valid JSON and the first byte must be \'{\'');
  }
  if (!isObject(document)) throw malformed('Policies must be valid JSON and the first byte must be \'{\'');
  for (const name of Object.keys(document)) if (!['Version', 'Id', 'Statement'].includes(name)) throw malformed(`Unknown field ${name}`);
  if (document.Version !== undefined && document.Version !== '2012-10-17' && document.Version !== '2008-10-17') throw malformed('The policy Version must be 2012-10-17 or 2008-10-17');
  const rawStatements = Array.isArray(document.Statement) ? document.Statement : document.Statement === undefined ? [] : [document.Statement];
  if (rawStatements.length === 0) throw malformed('Missing required field Statement');
  const statements: CompiledStatement[] = rawStatements.map((raw: unknown) => {
    if (!isObject(raw)) throw malformed('Each Statement must be an object');
    for (const name of Object.keys(raw)) {
      if (!['Sid', 'Effect', 'Principal', 'Action', 'Resource', 'Condition'].includes(name)) throw malformed(`Unsupported policy element ${name} (NotPrincipal, NotAction and NotResource are not supported)`);
    }
    if (raw.Sid !== undefined && typeof raw.Sid !== 'string') throw malformed('Sid must be a string');
    if (raw.Effect !== 'Allow' && raw.Effect !== 'Deny') throw malformed('Invalid effect: Effect must be Allow or Deny');
    if (raw.Principal === undefined) throw malformed('Missing required field Principal');
    if (raw.Action === undefined) throw malformed('Missing required field Action');
    if (raw.Resource === undefined) throw malformed('Missing required field Resource');
    const actions = stringList(raw.Action, 'Action').map((action) => {
      if (action !== '*' && !/^s3:[A-Za-z*?]+$/.test(action)) throw malformed(`Policy has an invalid action: ${JSON.stringify(action)}`);
      return glob(action, true);
    });
    const resources = stringList(raw.Resource, 'Resource').map((resource) => {
      if (!resource.startsWith(S3_ARN_PREFIX)) throw malformed(`Policy has invalid resource: ${JSON.stringify(resource)}`);
      const rest = resource.slice(S3_ARN_PREFIX.length);
      const slash = rest.indexOf('/');
      const bucketPart = slash === -1 ? rest : rest.slice(0, slash);
      if (bucketPart !== bucket) throw malformed(`Policy has invalid resource: ${JSON.stringify(resource)} is not in bucket ${bucket}`);
      return glob(resource, false);
    });
    return { effect: raw.Effect, principals: principalsOf(raw.Principal), actions, resources, conditions: conditionsOf(raw.Condition) };
  });
  return { statements };
}

function conditionsHold(conditions: readonly Condition[], request: PolicyRequest): boolean {
  const ip = request.sourceIp.startsWith('::ffff:') && isIPv4(request.sourceIp.slice(7)) ? request.sourceIp.slice(7) : request.sourceIp;
  const family = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined;
  return conditions.every((condition) => {
    if (condition.kind === 'secure') return condition.values.includes(request.secureTransport);
    const inside = family !== undefined && condition.blocks.check(ip, family);
    return condition.negated ? !inside : inside;
  });
}

/** Deny if any matching statement denies, else Allow if one allows, else None. */
export function evaluatePolicy(policy: CompiledPolicy, request: PolicyRequest): 'Allow' | 'Deny' | 'None' {
  let allowed = false;
  for (const statement of policy.statements) {
    const principalMatches = statement.principals === '*' || (request.user !== undefined && statement.principals.has(request.user));
    if (!principalMatches) continue;
    if (!statement.actions.some((pattern) => pattern.test(request.action))) continue;
    if (!statement.resources.some((pattern) => pattern.test(request.resource))) continue;
    if (!conditionsHold(statement.conditions, request)) continue;
    if (statement.effect === 'Deny') return 'Deny';
    allowed = true;
  }
  return allowed ? 'Allow' : 'None';
}

/** Compiled policies by text, so a request does not parse JSON (bounded). */
export class PolicyCache {
  private readonly cache = new Map<string, CompiledPolicy>();

  get(text: string, bucket: string): CompiledPolicy {
    const cacheKey = `${bucket}\n${text}`;
    let compiled = this.cache.get(cacheKey);
    if (compiled === undefined) {
      compiled = compilePolicy(text, bucket);
      if (this.cache.size >= 256) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(cacheKey, compiled);
    }
    return compiled;
  }
}
