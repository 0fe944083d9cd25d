import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { OpContext, Principal } from '../../core/context.js';
import { FsError } from '../../core/errors.js';
import type { FileSystem } from '../../core/file-system.js';
import { s3AuditFields, s3Operation } from './s3-audit.js';
import type { ProtocolServer } from '../protocol-server.js';
import { guardConnections, type NetworkAccess } from '../rest/network-access.js';
import { httpsOptions, type TlsIdentity } from '../rest/tls.js';
import { createBucket, deleteBucket, deleteBucketPolicy, getBucketLocation, getBucketPolicy, getBucketVersioning, headBucket, listBuckets, putBucketPolicy } from './bucket-operations.js';
import type { BucketStore } from './buckets.js';
import type { BucketRequest, S3Request, S3Services } from './context.js';
import { getBucketAcl, getObjectAcl, putAcl } from './acl.js';
import { deleteObjects } from './delete-objects.js';
import { errorXml, FS_ERROR_S3, S3_ERRORS, S3Error } from './errors.js';
import { listObjects } from './list-objects.js';
import { listObjectVersions } from './list-versions.js';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, listMultipartUploads, listParts, MultipartStore, PART_BYTES_MIN, sweepExpiredUploads, uploadPart, uploadPartCopy } from './multipart.js';
import { copyObject, deleteObject, getObject, metadataFromHeaders, putObject } from './object-operations.js';
import { evaluatePolicy, PolicyCache } from './policy.js';
import { RequestIds } from './request-ids.js';
import { requireContentLength } from './small-body.js';
import { Md5Offload } from './md5-offload.js';
import { deleteObjectTagging, getObjectTagging, putObjectTagging } from './tagging.js';
import { headerValues, parseAuthorization, parsePayloadMode, parseQuery, percentDecode, SigningKeyCache, splitTarget, UNSIGNED_PAYLOAD, verifySignature, type ParsedAuthorization } from './sigv4.js';

export interface S3User {
  readonly id: string;
  readonly name: string;
  readonly uid: number;
  readonly primaryGid: number;
  readonly sid: string;
}

export interface S3ServerLimits {
  /** Request line and headers (S3 itself allows 8 KiB of headers on PUT). */
  readonly headerBytesMax: number;
  /** Headers must arrive within this time (slowloris). */
  readonly headersTimeoutMs: number;
  /** A connection idle this long (no bytes either way) is cut, mid-body included. */
  readonly idleTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Largest single PutObject (S3: 5 GiB). */
  readonly objectBytesMax: number;
  /** Bounded shutdown: connections still open after this are destroyed. */
  readonly closeTimeoutMs: number;
  /** Multipart uploads initiated longer ago than this are removed by the sweep (7 days). */
  readonly multipartExpiryMs: number;
  /** How often the sweep runs, and how many uploads one run removes at most. */
  readonly multipartSweepIntervalMs: number;
  readonly multipartSweepStep: number;
  /** Smallest part but the last (S3: 5 MiB). */
  readonly partBytesMin: number;
}

export const DEFAULT_S3_LIMITS: S3ServerLimits = {
  headerBytesMax: 16 * 1024,
  headersTimeoutMs: 20_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  objectBytesMax: 5 * 1024 ** 3,
  closeTimeoutMs: 10_000,
  multipartExpiryMs: 7 * 24 * 3600_000,
  multipartSweepIntervalMs: 3600_000,
  multipartSweepStep: 100,
  partBytesMin: PART_BYTES_MIN,
};

/** Anonymous requests admitted by a bucket policy run through core as nobody. */
export const ANONYMOUS_PRINCIPAL: Principal = { uid: 65534, gids: [65534], name: 'anonymous' };

export interface S3ServerDeps {
  readonly fs: FileSystem;
  readonly buckets: BucketStore;
  readonly uploads: MultipartStore;
  readonly accessKeys: { secretOf(id: string): Promise<{ accessKey: { userId: string }; secret: string } | undefined> };
  readonly findUser: (id: string) => Promise<S3User | undefined>;
  readonly groupsOf: (userId: string) => Promise<number[]>;
  readonly tls: TlsIdentity;
  /** s3 settings, read at each listen: `secure` false also accepts plain HTTP on the same port. */
  readonly settings: () => Promise<{ secure: boolean; base_path: string }>;
  readonly networkAccess: Pick<NetworkAccess, 'isAllowed'>;
  readonly logger: Logger;
  readonly nowMs: () => number;
  /** Virtual-hosted-style addressing: `<bucket>.<domain>` for each domain here. */
  readonly virtualHostDomains?: readonly string[];
  readonly limits?: Partial<S3ServerLimits>;
  /** Every authenticated S3 request becomes an audit event (issue 7). */
  readonly auditor?: { emitFor(ctx: OpContext, fields: ReturnType<typeof s3AuditFields>): void };
}

const TLS_HANDSHAKE = 0x16;
/** Subresources S3 defines that this server does not implement (NotImplemented). */
const UNSUPPORTED_SUBRESOURCES: readonly string[] = ['cors', 'lifecycle', 'website', 'encryption', 'object-lock', 'retention', 'legal-hold', 'replication', 'notification', 'logging', 'requestPayment', 'accelerate', 'ownershipControls', 'publicAccessBlock', 'analytics', 'metrics', 'inventory', 'intelligent-tiering', 'torrent', 'restore', 'select', 'attributes'];
/** The S3 error code each failed response carried, for its audit event. */
const S3_ERROR_OF_RESPONSE = new WeakMap<ServerResponse, string>();

/**
 * The S3 listener. One port; HTTPS with the instance certificate, and plain HTTP too only when the
 * settings say `secure: false` (the first byte of a connection tells a TLS handshake apart). The
 * network access rules apply when a connection is accepted, before any TLS work.
 */
export class S3Server implements ProtocolServer {
  private listener: NetServer | undefined;
  private readonly limits: S3ServerLimits;
  private readonly keys = new SigningKeyCache();
  private readonly services: S3Services;
  private readonly sockets = new Set<Socket>();
  private readonly policies = new PolicyCache();
  private readonly requestIds = new RequestIds();
  /** MD5 of large bodies on a worker thread, started at the first one. */
  private readonly md5Offload = new Md5Offload();
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(private readonly deps: S3ServerDeps) {
    this.limits = { ...DEFAULT_S3_LIMITS, ...deps.limits };
    this.services = {
      fs: deps.fs,
      buckets: deps.buckets,
      basePath: async () => (await deps.settings()).base_path,
      objectBytesMax: this.limits.objectBytesMax,
      nowMs: deps.nowMs,
      uploads: deps.uploads,
      md5Offload: this.md5Offload,
    };
  }

  async listen(host: string, port: number): Promise<number> {
    if (this.listener !== undefined) throw new Error('assertion failed: the S3 server is already listening');
    const { secure } = await this.deps.settings();
    const handler = (request: IncomingMessage, response: ServerResponse) => void this.handle(request, response);
    // Node checks headersTimeout on a timer every connectionsCheckingInterval (30 s by default).
    const headersCheckMs = Math.min(1_000, this.limits.headersTimeoutMs);
    const serverOptions = { maxHeaderSize: this.limits.headerBytesMax, requestTimeout: 0, headersTimeout: this.limits.headersTimeoutMs, keepAliveTimeout: this.limits.keepAliveTimeoutMs, connectionsCheckingInterval: headersCheckMs };
    const https = createHttpsServer({ ...httpsOptions(this.deps.tls), ...serverOptions }, handler);
    const http: HttpServer | undefined = secure ? undefined : createHttpServer(serverOptions, handler);
    for (const server of [https, http]) {
      server?.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => this.clientError(error, socket));
      // Node starts that timer when a server emits 'listening'; these servers never listen (the
      // listener below hands them connections), so without this a client that trickles its
      // headers is never cut off. The timer stops when they are closed with the listener.
      server?.emit('listening');
    }
    const listener = createNetServer({ pauseOnConnect: true }, (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      // The HTTP(S) servers set no-delay only on connections they accept themselves, and this
      // listener hands them its own: without it, Nagle's algorithm holds a response's second
      // small write until the first is acknowledged.
      socket.setNoDelay(true);
      socket.setTimeout(this.limits.idleTimeoutMs, () => socket.destroy());
      socket.once('readable', () => {
        const first = socket.read(1) as Buffer | null;
        if (first === null) return void socket.destroy();
        socket.unshift(first);
        if (first[0] === TLS_HANDSHAKE) https.emit('connection', socket);
        else if (http !== undefined) http.emit('connection', socket);
        else socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        socket.resume();
      });
    });
    listener.once('close', () => {
      https.close();
      http?.close();
    });
    guardConnections(listener, 's3', this.deps.networkAccess, this.deps.logger);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.listener = listener;
    this.sweepTimer = setInterval(() => void this.sweepMultipart(), this.limits.multipartSweepIntervalMs);
    this.sweepTimer.unref();
    const address = listener.address();
    return typeof address === 'object' && address !== null ? address.port : port;
  }

  async close(): Promise<void> {
    const listener = this.listener;
    if (listener === undefined) return;
    this.listener = undefined;
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.sweeping;
    const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    for (const socket of this.sockets) socket.end();
    const timer = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, this.limits.closeTimeoutMs);
    await closed;
    clearTimeout(timer);
    await this.md5Offload.close();
  }

  /** One bounded run of the abandoned-upload sweep (also run on a timer while listening). */
  async sweepMultipart(): Promise<number> {
    if (this.sweeping !== undefined) return this.sweeping;
    this.sweeping = sweepExpiredUploads(this.services, this.deps.logger, { maxAgeMs: this.limits.multipartExpiryMs, step: this.limits.multipartSweepStep })
      .catch((error: unknown) => {
        this.deps.logger.warn({ err: error }, 'the multipart sweep failed');
        return 0;
      })
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }

  private clientError(error: NodeJS.ErrnoException, socket: Socket): void {
    if (!socket.writable) return void socket.destroy();
    const code = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${code} ${code === 431 ? 'Request Header Fields Too Large' : code === 408 ? 'Request Timeout' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { requestId, hostId } = this.requestIds.next();
    response.setHeader('x-amz-request-id', requestId);
    response.setHeader('x-amz-id-2', hostId);
    response.setHeader('server', 'Enclave');
    const logger = this.deps.logger.child({ requestId, protocol: 's3' });
    const abort = new AbortController();
    // The signal tells core the client went away: a response that finished was not cut short
    // (aborting it anyway would cost an AbortError per request for no listener's benefit).
    response.once('close', () => {
      if (!response.writableFinished) abort.abort();
    });
    let resource = request.url ?? '/';
    let audited: { ctx: OpContext; operation: string; bucket?: string; key?: string; query: ReadonlyMap<string, string> } | undefined;
    const auditor = this.deps.auditor;
    if (auditor !== undefined) {
      response.once('finish', () => {
        if (audited === undefined) return;
        const errorCode = S3_ERROR_OF_RESPONSE.get(response);
        const status = response.statusCode < 400 ? 'ok' : typeof errorCode === 'string' ? errorCode : `http_${response.statusCode}`;
        auditor.emitFor(audited.ctx, s3AuditFields({ ...audited, status, request, response }));
      });
    }
    try {
      const { bucketName, key, query } = this.address(request);
      resource = `/${bucketName ?? ''}${key === undefined ? '' : `/${key}`}`;
      const headerValuesOfRequest = headerValues(request.rawHeaders);
      const signable = { method: request.method ?? 'GET', url: request.url ?? '/', rawHeaders: request.rawHeaders, headers: headerValuesOfRequest };
      const auth = parseAuthorization(signable);
      const clientAddress = request.socket.remoteAddress ?? 'unknown';
      let s3: S3Request;
      if (auth === undefined) {
        // Anonymous: admitted later only where a bucket policy allows "*" (see authorize).
        const payloadHeader = request.headers['x-amz-content-sha256'];
        const payload = parsePayloadMode(typeof payloadHeader === 'string' ? payloadHeader : UNSIGNED_PAYLOAD, true);
        if (payload.kind === 'streaming-signed') throw new S3Error('AccessDenied', 'A signed streaming payload needs a signed request');
        const anonymousAuth: ParsedAuthorization = { accessKeyId: '', scope: '', date: '', region: '', service: '', amzDate: '', signedHeaders: [], signature: '', presigned: false, payload };
        const ctx: OpContext = { principal: ANONYMOUS_PRINCIPAL, clientAddress, protocol: 's3', requestId, logger, signal: abort.signal };
        s3 = { request, response, ctx, method: request.method ?? 'GET', ...(bucketName === undefined ? {} : { bucketName }), ...(key === undefined ? {} : { key }), query, headerValues: headerValuesOfRequest, auth: anonymousAuth, verified: { signingKey: Buffer.alloc(0), seedSignature: '', amzDate: '', scope: '' }, ownerId: '', ownerName: 'anonymous', anonymous: true };
      } else {
        const found = await this.deps.accessKeys.secretOf(auth.accessKeyId);
        if (found === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: auth.accessKeyId });
        const verified = verifySignature({ request: signable, auth, secret: found.secret, nowMs: this.deps.nowMs(), keys: this.keys });
        const user = await this.deps.findUser(found.accessKey.userId);
        if (user === undefined) throw new S3Error('InvalidAccessKeyId', 'The user of this access key no longer exists');
        const principal: Principal = { uid: user.uid, gids: [user.primaryGid, ...(await this.deps.groupsOf(user.id)).filter((gid) => gid !== user.primaryGid)], sid: user.sid, name: user.name };
        const ctx: OpContext = { principal, clientAddress, protocol: 's3', requestId, logger, signal: abort.signal };
        s3 = { request, response, ctx, method: request.method ?? 'GET', ...(bucketName === undefined ? {} : { bucketName }), ...(key === undefined ? {} : { key }), query, headerValues: headerValuesOfRequest, auth, verified, ownerId: user.sid, ownerName: user.name, anonymous: false };
      }
      if (auditor !== undefined) audited = { ctx: s3.ctx, operation: s3Operation({ method: s3.method, ...(bucketName === undefined ? {} : { bucket: bucketName }), ...(key === undefined ? {} : { key }), query, headers: request.headers }), ...(bucketName === undefined ? {} : { bucket: bucketName }), ...(key === undefined ? {} : { key }), query };
      await this.dispatch(s3);
    } catch (error) {
      this.sendError(error, request, response, { requestId, hostId, resource, logger });
    }
  }

  /** Path style `/<bucket>/<key>`, or virtual-hosted style `<bucket>.<domain>/<key>`. */
  private address(request: IncomingMessage): { bucketName?: string; key?: string; query: Map<string, string> } {
    const { path, query } = splitTarget(request.url ?? '/');
    const parameters = new Map(parseQuery(query));
    const host = (request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const domain = this.deps.virtualHostDomains?.find((candidate) => host.endsWith(`.${candidate.toLowerCase()}`));
    const decodedPath = percentDecode(path);
    if (domain !== undefined) {
      const bucketName = host.slice(0, host.length - domain.length - 1);
      const key = decodedPath.replace(/^\//, '');
      return { bucketName, ...(key === '' ? {} : { key }), query: parameters };
    }
    const trimmed = decodedPath.replace(/^\//, '');
    if (trimmed === '') return { query: parameters };
    const slash = trimmed.indexOf('/');
    if (slash === -1) return { bucketName: trimmed, query: parameters };
    const key = trimmed.slice(slash + 1);
    return { bucketName: trimmed.slice(0, slash), ...(key === '' ? {} : { key }), query: parameters };
  }

  private async bucketRequest(s3: S3Request, name: string): Promise<BucketRequest> {
    const bucket = await this.services.buckets.get(name);
    if (bucket === undefined) {
      // Anonymous callers learn nothing about which buckets exist.
      if (s3.anonymous) throw new S3Error('AccessDenied');
      throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
    }
    const request: BucketRequest = { ...s3, bucketName: name, bucket };
    return { ...request, authorize: (action, key) => this.authorize(request, action, key) };
  }

  /**
   * The bucket policy's word on one action: Deny refuses anyone; an anonymous caller needs an
   * Allow for "*". Anything else goes on to core's ACLs as the caller (or as nobody).
   */
  private authorize(s3: BucketRequest, action: string, key: string | undefined): void {
    const text = s3.bucket.policy;
    if (text === undefined) {
      if (s3.anonymous) throw new S3Error('AccessDenied');
      return;
    }
    let decision: 'Allow' | 'Deny' | 'None';
    try {
      decision = evaluatePolicy(this.policies.get(text, s3.bucket.name), {
        user: s3.anonymous ? undefined : s3.ctx.principal.name,
        action,
        resource: `arn:aws:s3:::${s3.bucket.name}${key === undefined ? '' : `/${key}`}`,
        sourceIp: s3.ctx.clientAddress,
        secureTransport: (s3.request.socket as { encrypted?: boolean }).encrypted === true,
      });
    } catch (error) {
      // A stored policy this server no longer understands admits no one anonymously and denies nothing else.
      s3.ctx.logger.warn({ err: error, bucket: s3.bucket.name }, 'the bucket policy does not compile');
      decision = 'None';
    }
    if (decision === 'Deny' || (s3.anonymous && decision !== 'Allow')) throw new S3Error('AccessDenied');
  }

  private async dispatch(s3: S3Request): Promise<void> {
    const { method, query } = s3;
    const services = this.services;
    const subresource = query.size === 0 ? undefined : UNSUPPORTED_SUBRESOURCES.find((name) => query.has(name));
    if (s3.bucketName === undefined) {
      if (s3.anonymous) throw new S3Error('AccessDenied', 'Anonymous access is allowed only where a bucket policy allows it');
      if (method === 'GET') return listBuckets(services, s3);
      throw new S3Error('MethodNotAllowed');
    }
    if (s3.key === undefined) {
      if (method === 'PUT' && subresource === undefined && !['versioning', 'policy', 'tagging', 'acl'].some((name) => query.has(name))) {
        if (s3.anonymous) throw new S3Error('AccessDenied', 'Anonymous access is allowed only where a bucket policy allows it');
        return createBucket(services, s3, s3.bucketName);
      }
      const bucket = await this.bucketRequest(s3, s3.bucketName);
      if (subresource !== undefined) throw new S3Error('NotImplemented', `The ${subresource} subresource is not implemented yet`);
      const route = this.bucketRoute(bucket);
      if (route.action !== undefined) this.authorize(bucket, route.action, undefined);
      return route.run();
    }
    const bucket = await this.bucketRequest(s3, s3.bucketName);
    if (subresource !== undefined) throw new S3Error('NotImplemented', `The ${subresource} subresource is not implemented yet`);
    const versionId = query.get('versionId');
    if (versionId !== undefined && versionId !== 'null') throw new S3Error('NoSuchKey', 'The specified version does not exist.', { Key: s3.key });
    const route = this.objectRoute(bucket);
    this.authorize(bucket, route.action, s3.key);
    return route.run();
  }

  private bucketRoute(bucket: BucketRequest): { action: string | undefined; run: () => Promise<void> } {
    const { method, query } = bucket;
    const services = this.services;
    const route = (action: string | undefined, run: () => Promise<void>) => ({ action, run });
    if (query.has('tagging')) throw new S3Error('NotImplemented', 'Bucket tagging is not implemented; object tagging is');
    if (query.has('acl')) {
      if (method === 'GET') return route('s3:GetBucketAcl', () => getBucketAcl(services, bucket));
      if (method === 'PUT') return route('s3:PutBucketAcl', () => putAcl(services, bucket));
      throw new S3Error('MethodNotAllowed');
    }
    if (query.has('policy')) {
      if (method === 'GET') return route('s3:GetBucketPolicy', () => getBucketPolicy(services, bucket));
      if (method === 'PUT') return route('s3:PutBucketPolicy', () => putBucketPolicy(services, bucket));
      if (method === 'DELETE') return route('s3:DeleteBucketPolicy', () => deleteBucketPolicy(services, bucket));
      throw new S3Error('MethodNotAllowed');
    }
    if (query.has('versioning')) {
      if (method === 'GET') return route('s3:GetBucketVersioning', () => getBucketVersioning(services, bucket));
      if (method === 'PUT') throw new S3Error('NotImplemented', 'Versioning cannot be enabled on this server yet: buckets stay unversioned (GetBucketVersioning reports it, ListObjectVersions lists current objects as null versions)');
      throw new S3Error('MethodNotAllowed');
    }
    if (method === 'GET' && query.has('location')) return route('s3:GetBucketLocation', () => getBucketLocation(services, bucket));
    if (method === 'GET' && query.has('versions')) return route('s3:ListBucketVersions', () => listObjectVersions(services, bucket));
    if (method === 'GET' && query.has('uploads')) return route('s3:ListBucketMultipartUploads', () => listMultipartUploads(services, bucket));
    if (method === 'GET') return route('s3:ListBucket', () => listObjects(services, bucket, query.get('list-type') === '2' ? 2 : 1));
    if (method === 'HEAD') return route('s3:ListBucket', () => headBucket(services, bucket));
    if (method === 'DELETE') return route('s3:DeleteBucket', () => deleteBucket(services, bucket));
    // DeleteObjects checks s3:DeleteObject for each key.
    if (method === 'POST' && query.has('delete')) return route(undefined, () => deleteObjects(services, bucket));
    throw new S3Error('MethodNotAllowed');
  }

  private objectRoute(bucket: BucketRequest): { action: string; run: () => Promise<void> } {
    const { method, query } = bucket;
    const services = this.services;
    const route = (action: string, run: () => Promise<void>) => ({ action, run });
    const copying = bucket.request.headers['x-amz-copy-source'] !== undefined;
    // A copy source is read as the same caller, and the source bucket's policy must allow s3:GetObject.
    const resolveSource = async (name: string, key: string): Promise<BucketRequest> => {
      const source = await this.bucketRequest(bucket, name);
      this.authorize(source, 's3:GetObject', key);
      return { ...source, key };
    };
    if (query.has('uploadId')) {
      if (method === 'PUT' && query.has('partNumber') && copying) return route('s3:PutObject', () => uploadPartCopy(services, bucket, resolveSource));
      if (method === 'PUT' && query.has('partNumber')) return route('s3:PutObject', () => {
        requireContentLength(bucket);
        return uploadPart(services, bucket);
      });
      if (method === 'POST') return route('s3:PutObject', () => completeMultipartUpload(services, bucket, { partBytesMin: this.limits.partBytesMin }));
      if (method === 'DELETE') return route('s3:AbortMultipartUpload', () => abortMultipartUpload(services, bucket));
      if (method === 'GET') return route('s3:ListMultipartUploadParts', () => listParts(services, bucket));
      throw new S3Error('MethodNotAllowed');
    }
    if (method === 'POST' && query.has('uploads')) return route('s3:PutObject', () => createMultipartUpload(services, bucket));
    if (query.has('tagging')) {
      if (method === 'GET') return route('s3:GetObjectTagging', () => getObjectTagging(services, bucket));
      if (method === 'PUT') return route('s3:PutObjectTagging', () => putObjectTagging(services, bucket));
      if (method === 'DELETE') return route('s3:DeleteObjectTagging', () => deleteObjectTagging(services, bucket));
      throw new S3Error('MethodNotAllowed');
    }
    if (query.has('acl')) {
      if (method === 'GET') return route('s3:GetObjectAcl', () => getObjectAcl(services, bucket));
      if (method === 'PUT') return route('s3:PutObjectAcl', () => putAcl(services, bucket));
      throw new S3Error('MethodNotAllowed');
    }
    // GET/HEAD by partNumber is GetObject's (object-reads.ts); other methods have no meaning for it.
    if (query.has('partNumber') && method !== 'GET' && method !== 'HEAD') throw new S3Error('InvalidArgument', 'partNumber takes an uploadId (UploadPart), or names a part to GET or HEAD', { ArgumentName: 'partNumber' });
    if (query.has('uploads')) throw new S3Error('MethodNotAllowed');
    if (method === 'PUT' && copying) return route('s3:PutObject', () => copyObject(services, bucket, resolveSource));
    if (method === 'PUT') return route('s3:PutObject', () => {
      // Refused before any byte of the body is read: no length, or headers S3 would refuse
      // (metadata size, storage class, ACLs, tags); putObject reads them again to store them.
      requireContentLength(bucket);
      metadataFromHeaders(bucket);
      return putObject(services, bucket);
    });
    if (method === 'GET' || method === 'HEAD') return route('s3:GetObject', () => getObject(services, bucket, method === 'HEAD'));
    if (method === 'DELETE') return route('s3:DeleteObject', () => deleteObject(services, bucket));
    throw new S3Error('MethodNotAllowed');
  }

  private sendError(error: unknown, request: IncomingMessage, response: ServerResponse, where: { requestId: string; hostId: string; resource: string; logger: Logger }): void {
    let s3Error: S3Error;
    if (error instanceof S3Error) s3Error = error;
    else if (error instanceof FsError) {
      s3Error = new S3Error(FS_ERROR_S3[error.code], error.code === 'Internal' ? undefined : error.message);
      if (error.code === 'Internal') where.logger.error({ err: error }, 'file-system error');
    } else {
      where.logger.error({ err: error }, 'unexpected error in an S3 request');
      s3Error = new S3Error('InternalError', `${S3_ERRORS.InternalError.message} The server log has details under request id ${where.requestId}.`);
    }
    S3_ERROR_OF_RESPONSE.set(response, s3Error.code);
    if (response.headersSent) {
      // The status is gone already: all that is left is to cut the body short.
      response.destroy();
      return;
    }
    // A body not read to its end cannot be skipped safely on a kept-alive connection.
    const bodyPending = !request.readableEnded;
    // Checksums echoed once the body verified do not describe a failed request.
    for (const name of response.getHeaderNames()) if (name.startsWith('x-amz-checksum-')) response.removeHeader(name);
    const headers: Record<string, string | number> = { ...s3Error.headers };
    if (bodyPending) headers.connection = 'close';
    if (s3Error.status === 304 || request.method === 'HEAD') {
      response.writeHead(s3Error.status, { ...headers, 'content-length': 0 });
      response.end();
    } else {
      const body = errorXml({ code: s3Error.code, message: s3Error.message, details: { Resource: where.resource, ...s3Error.details } }, where.requestId, where.hostId);
      response.writeHead(s3Error.status, { ...headers, 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    }
    if (bodyPending) request.socket.once('finish', () => request.socket.destroy());
  }
}
