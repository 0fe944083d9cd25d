import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { ACL_ENTRIES_MAX, AceFlag, Right, type Ace, type Acl, type RightName, type Trustee } from '../../../core/acl/acl.js';
import { explainAccess, type AccessDecision } from '../../../core/acl/evaluate.js';
import type { Principal } from '../../../core/context.js';
import { ApiError } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { callerContext, RefParams, resolveRef, type FileRouteDependencies, type RefParamsValue } from './files-common.js';

/**
 * ACLs over REST in Qumulo's shape (`{control, aces: [{type, flags, trustee, rights}]}`). Rights
 * and flags keep core's names (NFSv4 / NTFS: READ_DATA, FILE_INHERIT, ...); trustees name a
 * domain: OWNER, OWNING_GROUP and EVERYONE are the NFSv4 special identities, USER and GROUP name
 * a uid/gid and/or a SID.
 */

type FlagName = keyof typeof AceFlag;
const RIGHT_NAMES = Object.keys(Right) as RightName[];
const FLAG_NAMES = Object.keys(AceFlag) as FlagName[];
const TRUSTEE_DOMAINS = ['OWNER', 'OWNING_GROUP', 'EVERYONE', 'USER', 'GROUP'] as const;
type TrusteeDomain = (typeof TRUSTEE_DOMAINS)[number];
const ID_MAX = 0xffff_ffff;
const SID_CHARACTERS_MAX = 200;
const GIDS_MAX = 64;

function literals<T extends string>(values: readonly T[]) {
  return Type.Union(values.map((value) => Type.Literal(value)));
}

const TrusteeSchema = Type.Object(
  {
    domain: literals(TRUSTEE_DOMAINS),
    uid: Type.Optional(Type.Integer({ minimum: 0, maximum: ID_MAX })),
    gid: Type.Optional(Type.Integer({ minimum: 0, maximum: ID_MAX })),
    sid: Type.Optional(Type.String({ minLength: 1, maxLength: SID_CHARACTERS_MAX })),
  },
  { additionalProperties: false },
);

const AceSchema = Type.Object(
  {
    type: literals(['ALLOWED', 'DENIED'] as const),
    flags: Type.Array(literals(FLAG_NAMES), { maxItems: FLAG_NAMES.length }),
    trustee: TrusteeSchema,
    rights: Type.Array(literals(RIGHT_NAMES), { maxItems: RIGHT_NAMES.length }),
  },
  { additionalProperties: false },
);

const AclAnswer = Type.Object({ control: Type.Array(Type.String()), aces: Type.Array(AceSchema) });
const ExplainAnswer = Type.Object({
  principal: Type.Object({ uid: Type.Integer(), gids: Type.Array(Type.Integer()), sid: Type.Optional(Type.String()), superuser: Type.Boolean() }),
  owner: TrusteeSchema,
  group: TrusteeSchema,
  granted_rights: Type.Array(Type.String()),
  denied_rights: Type.Array(Type.String()),
  rights: Type.Array(
    Type.Object({
      right: Type.String(),
      granted: Type.Boolean(),
      reason: Type.String({ description: 'SUPERUSER, IMPLICIT_OWNER_RIGHT, IMPLICIT_EVERYONE_RIGHT, ALLOWED_BY_ACE, DENIED_BY_ACE or NO_MATCHING_ACE' }),
      ace_index: Type.Optional(Type.Integer()),
      ace: Type.Optional(AceSchema),
    }),
  ),
});

/** `control` is accepted for Qumulo clients; core ACLs have no control flags beyond PRESENT. */
const AclBody = Type.Object(
  {
    control: Type.Optional(Type.Array(Type.Literal('PRESENT'), { maxItems: 1 })),
    aces: Type.Array(AceSchema, { maxItems: ACL_ENTRIES_MAX }),
  },
  { additionalProperties: false },
);

interface TrusteeBody {
  readonly domain: TrusteeDomain;
  readonly uid?: number;
  readonly gid?: number;
  readonly sid?: string;
}

interface AceBody {
  readonly type: 'ALLOWED' | 'DENIED';
  readonly flags: readonly FlagName[];
  readonly trustee: TrusteeBody;
  readonly rights: readonly RightName[];
}

function namesOf<K extends string>(table: Readonly<Record<K, number>>, names: readonly K[], mask: number): K[] {
  return names.filter((name) => (mask & table[name]) !== 0);
}

function maskOf<K extends string>(table: Readonly<Record<K, number>>, names: readonly K[]): number {
  return names.reduce((mask, name) => mask | table[name], 0);
}

export function encodeTrustee(trustee: Trustee): TrusteeBody {
  switch (trustee.kind) {
    case 'owner':
      return { domain: 'OWNER' };
    case 'group':
      return { domain: 'OWNING_GROUP' };
    case 'everyone':
      return { domain: 'EVERYONE' };
    case 'user':
      return { domain: 'USER', ...(trustee.uid === undefined ? {} : { uid: trustee.uid }), ...(trustee.sid === undefined ? {} : { sid: trustee.sid }) };
    case 'group-id':
      return { domain: 'GROUP', ...(trustee.gid === undefined ? {} : { gid: trustee.gid }), ...(trustee.sid === undefined ? {} : { sid: trustee.sid }) };
  }
}

function badTrustee(index: number, message: string): never {
  throw new ApiError(400, 'http_bad_request_error', `ace ${index}: ${message}`);
}

export function decodeTrustee(body: TrusteeBody, index: number): Trustee {
  const { domain, uid, gid, sid } = body;
  const special = domain === 'OWNER' || domain === 'OWNING_GROUP' || domain === 'EVERYONE';
  if (special && (uid !== undefined || gid !== undefined || sid !== undefined)) badTrustee(index, `a ${domain} trustee takes no uid, gid or sid`);
  switch (domain) {
    case 'OWNER':
      return { kind: 'owner' };
    case 'OWNING_GROUP':
      return { kind: 'group' };
    case 'EVERYONE':
      return { kind: 'everyone' };
    case 'USER':
      if (gid !== undefined || (uid === undefined && sid === undefined)) badTrustee(index, 'a USER trustee has a uid and/or a sid');
      return { kind: 'user', ...(uid === undefined ? {} : { uid }), ...(sid === undefined ? {} : { sid }) };
    case 'GROUP':
      if (uid !== undefined || (gid === undefined && sid === undefined)) badTrustee(index, 'a GROUP trustee has a gid and/or a sid');
      return { kind: 'group-id', ...(gid === undefined ? {} : { gid }), ...(sid === undefined ? {} : { sid }) };
  }
}

export function encodeAce(ace: Ace): AceBody {
  return {
    type: ace.type === 'allow' ? 'ALLOWED' : 'DENIED',
    flags: namesOf(AceFlag, FLAG_NAMES, ace.flags),
    trustee: encodeTrustee(ace.trustee),
    rights: namesOf(Right, RIGHT_NAMES, ace.mask),
  };
}

export function encodeAcl(acl: Acl): { control: string[]; aces: AceBody[] } {
  return { control: ['PRESENT'], aces: acl.entries.map(encodeAce) };
}

/** Decodes the body; core's validateAcl (inside fs.setAcl) then checks it as a whole. */
export function decodeAcl(body: { aces: readonly AceBody[] }): Acl {
  return {
    entries: body.aces.map((ace, index) => ({
      type: ace.type === 'ALLOWED' ? 'allow' : 'deny',
      flags: maskOf(AceFlag, ace.flags),
      trustee: decodeTrustee(ace.trustee, index),
      mask: maskOf(Right, ace.rights),
    })),
  };
}

const ExplainQuery = Type.Object(
  {
    uid: Type.Optional(Type.Integer({ minimum: 0, maximum: ID_MAX })),
    gids: Type.Optional(Type.String({ pattern: '^[0-9]{1,10}(,[0-9]{1,10}){0,63}$', description: 'comma-separated gids, primary first' })),
    sid: Type.Optional(Type.String({ minLength: 1, maxLength: SID_CHARACTERS_MAX })),
  },
  { additionalProperties: false },
);

/**
 * The principal to explain for: the caller by default, or the one the query names. A principal
 * from the query is never a superuser (that is not something input can claim).
 */
function principalFor(request: FastifyRequest, caller: Principal): Principal {
  const query = request.query as { uid?: number; gids?: string; sid?: string };
  if (query.uid === undefined && query.gids === undefined && query.sid === undefined) return caller;
  const gids = query.gids === undefined ? [] : query.gids.split(',').map(Number);
  if (gids.length > GIDS_MAX || gids.some((gid) => gid > ID_MAX)) throw new ApiError(400, 'http_bad_request_error', 'invalid gids');
  if (query.uid === undefined && query.sid === undefined) throw new ApiError(400, 'http_bad_request_error', 'name the principal with uid and/or sid');
  // Without a uid the principal matches no uid: use one no real user has (2^32, outside uid_t).
  return { uid: query.uid ?? ID_MAX + 1, gids, ...(query.sid === undefined ? {} : { sid: query.sid }) };
}

function encodeDecision(decision: AccessDecision): Record<string, unknown> {
  switch (decision.kind) {
    case 'superuser':
      return { reason: 'SUPERUSER' };
    case 'implicit-owner-right':
      return { reason: 'IMPLICIT_OWNER_RIGHT' };
    case 'implicit-everyone-right':
      return { reason: 'IMPLICIT_EVERYONE_RIGHT' };
    case 'entry':
      return { reason: decision.entry.type === 'allow' ? 'ALLOWED_BY_ACE' : 'DENIED_BY_ACE', ace_index: decision.index, ace: encodeAce(decision.entry) };
    case 'no-entry':
      return { reason: 'NO_MATCHING_ACE' };
  }
}

async function explainRights(deps: FileRouteDependencies, request: FastifyRequest): Promise<unknown> {
  const ctx = callerContext(request, deps.logger);
  const { handle, attributes } = await resolveRef(deps, ctx, (request.params as RefParamsValue).ref, { followFinalSymlink: false });
  const principal = principalFor(request, ctx.principal);
  const acl = await deps.fs.getAcl(ctx, handle);
  const owner = { uid: attributes.uid, gid: attributes.gid, ...(attributes.ownerSid === undefined ? {} : { ownerSid: attributes.ownerSid }), ...(attributes.groupSid === undefined ? {} : { groupSid: attributes.groupSid }) };
  const explanation = explainAccess({ acl, owner, principal });
  return {
    principal: { uid: principal.uid, gids: principal.gids, ...(principal.sid === undefined ? {} : { sid: principal.sid }), superuser: principal.superuser === true },
    owner: encodeTrustee({ kind: 'user', uid: attributes.uid, ...(attributes.ownerSid === undefined ? {} : { sid: attributes.ownerSid }) }),
    group: encodeTrustee({ kind: 'group-id', gid: attributes.gid, ...(attributes.groupSid === undefined ? {} : { sid: attributes.groupSid }) }),
    granted_rights: explanation.rights.filter((row) => row.granted).map((row) => row.right),
    denied_rights: explanation.rights.filter((row) => !row.granted).map((row) => row.right),
    rights: explanation.rights.map((row) => ({ right: row.right, granted: row.granted, ...encodeDecision(row.decidedBy) })),
  };
}

export function fileAclRoutes(deps: FileRouteDependencies): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/files/:ref/info/acl',
      privilege: 'FILE_READ',
      summary: 'A file\'s ACL.',
      schema: { params: RefParams, response: { 200: AclAnswer } },
      handler: async (request) => {
        const ctx = callerContext(request, deps.logger);
        const { handle } = await resolveRef(deps, ctx, (request.params as RefParamsValue).ref, { followFinalSymlink: false });
        return encodeAcl(await deps.fs.getAcl(ctx, handle));
      },
    },
    {
      method: 'PUT',
      url: '/v1/files/:ref/info/acl',
      privilege: 'FILE_WRITE',
      summary: 'Replace a file\'s ACL (needs WRITE_ACL on it, which its owner always has); answers the ACL now in force.',
      schema: { params: RefParams, body: AclBody, response: { 200: AclAnswer } },
      handler: async (request) => {
        const ctx = callerContext(request, deps.logger);
        const { handle } = await resolveRef(deps, ctx, (request.params as RefParamsValue).ref, { followFinalSymlink: false });
        await deps.fs.setAcl(ctx, handle, decodeAcl(request.body as { aces: AceBody[] }));
        return encodeAcl(await deps.fs.getAcl(ctx, handle));
      },
    },
    {
      method: 'GET',
      url: '/v1/files/:ref/info/explain-rights',
      privilege: 'FILE_READ',
      summary: 'For the caller, or the principal named by uid/gids/sid, each right on the file: granted or not, and what decided it.',
      schema: { params: RefParams, querystring: ExplainQuery, response: { 200: ExplainAnswer } },
      handler: async (request) => explainRights(deps, request),
    },
  ];
}
