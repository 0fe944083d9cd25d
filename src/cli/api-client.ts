import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './cli-io.js';

/**
 * The CLI's HTTP client of the REST API: one base URL, TLS verified unless `insecure`, an
 * optional bearer token, errors turned into `error_class: description` for the user. Bodies are
 * JSON both ways, except file data, which streams (`openDownload`, `upload`) and is never held
 * in memory whole.
 */

export const DEFAULT_API_URL = 'https://127.0.0.1:8443';
/** A JSON answer larger than this is refused: every listing the CLI reads is paginated. */
const JSON_ANSWER_BYTES_MAX = 64 * 1024 * 1024;
/** An idle connection (no bytes either way) fails after this long. */
const SOCKET_IDLE_TIMEOUT_MS = 120_000;

/** Node's codes for a certificate chain that does not verify, or names another host. */
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A refusal by the server: its `{error_class, description}`, and the HTTP status. */
export class ApiRequestError extends CliError {
  constructor(
    readonly status: number,
    readonly errorClass: string,
    readonly description: string,
    hint?: string,
  ) {
    super(`${errorClass}: ${description}${hint === undefined ? '' : `\n${hint}`}`, EXIT_FAILURE);
    this.name = 'ApiRequestError';
  }
}

export interface ApiClientOptions {
  /** `https://host:port` (http:// is accepted for a server behind a local TLS terminator). */
  readonly baseUrl: string;
  /** Accept any certificate (a fresh instance's self-signed one). */
  readonly insecure: boolean;
  /** Extra CA certificates (PEM) to trust besides the system's. */
  readonly caPem?: string;
  readonly token?: string;
}

export interface CallOptions {
  /** Sent as JSON. */
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  /** Send the bearer token (default true). Login and the public calls send none. */
  readonly authenticated?: boolean;
}

export type Query = CallOptions['query'];

export function parseApiUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`--api ${JSON.stringify(text)} is not a URL (like ${DEFAULT_API_URL})`, EXIT_USAGE);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CliError(`--api must be an https:// URL, not ${url.protocol}`, EXIT_USAGE);
  return url;
}

export class ApiClient {
  readonly baseUrl: URL;
  private readonly token: string | undefined;
  private readonly agent: HttpAgent | HttpsAgent;

  constructor(options: ApiClientOptions) {
    this.baseUrl = parseApiUrl(options.baseUrl);
    this.token = options.token;
    // No keep-alive: a CLI run makes a handful of calls, and idle sockets would delay its exit.
    this.agent =
      this.baseUrl.protocol === 'http:'
        ? new HttpAgent({ keepAlive: false })
        : new HttpsAgent({ keepAlive: false, rejectUnauthorized: !options.insecure, ...(options.caPem === undefined ? {} : { ca: options.caPem }) });
  }

  get hasToken(): boolean {
    return this.token !== undefined;
  }

  /** A JSON call; resolves with the parsed answer, or undefined for an empty one (204). */
  async call<T = unknown>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: OutgoingHttpHeaders = { accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = body.length;
    }
    const response = await this.send(method, withQuery(path, options.query), headers, body, options.authenticated ?? true);
    await this.ensureOk(response);
    const text = (await readAll(response, JSON_ANSWER_BYTES_MAX)).toString('utf8');
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`the server answered ${method} ${path} with something that is not JSON`, EXIT_FAILURE);
    }
  }

  /**
   * GETs file data; resolves once the headers are in, with the body still to read. The caller
   * consumes (or destroys) `response`.
   */
  async openDownload(path: string): Promise<{ response: IncomingMessage; sizeBytes: number | undefined }> {
    const response = await this.send('GET', path, { accept: 'application/octet-stream' }, undefined, true);
    await this.ensureOk(response);
    const length = response.headers['content-length'];
    return { response, sizeBytes: length === undefined ? undefined : Number(length) };
  }

  /** PUTs `source` as `application/octet-stream` of `sizeBytes` bytes; resolves with the JSON answer. */
  async upload<T = unknown>(path: string, source: Readable, sizeBytes: number): Promise<T> {
    const headers: OutgoingHttpHeaders = { accept: 'application/json', 'content-type': 'application/octet-stream', 'content-length': sizeBytes };
    const response = await this.send('PUT', path, headers, source, true);
    await this.ensureOk(response);
    return JSON.parse((await readAll(response, JSON_ANSWER_BYTES_MAX)).toString('utf8')) as T;
  }

  /**
   * One request; resolves when the answer's headers arrive. A streamed body that fails part-way
   * (the server answered early, say with 403, and closed) does not hide the server's answer.
   */
  private send(method: string, path: string, headers: OutgoingHttpHeaders, body: Buffer | Readable | undefined, authenticated: boolean): Promise<IncomingMessage> {
    const url = new URL(path, this.baseUrl);
    const allHeaders: OutgoingHttpHeaders = { ...headers, 'user-agent': 'enclave-cli' };
    if (authenticated && this.token !== undefined) allHeaders.authorization = `Bearer ${this.token}`;
    const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      let answered = false;
      const outgoing = request(url, { method, headers: allHeaders, agent: this.agent }, (response) => {
        answered = true;
        resolve(response);
      });
      outgoing.setTimeout(SOCKET_IDLE_TIMEOUT_MS, () => outgoing.destroy(new Error(`no answer from the server for ${SOCKET_IDLE_TIMEOUT_MS / 1000} s`)));
      outgoing.on('error', (error) => {
        if (!answered) reject(this.connectionError(error as NodeJS.ErrnoException));
      });
      if (body === undefined || Buffer.isBuffer(body)) {
        outgoing.end(body);
        return;
      }
      body.on('error', (error) => {
        outgoing.destroy();
        if (!answered) reject(new CliError(`reading the upload failed: ${error.message}`, EXIT_FAILURE));
      });
      body.pipe(outgoing);
    });
  }

  private async ensureOk(response: IncomingMessage): Promise<void> {
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return;
    const text = (await readAll(response, JSON_ANSWER_BYTES_MAX).catch(() => Buffer.alloc(0))).toString('utf8');
    let errorClass = `http_${status}`;
    let description = response.statusMessage ?? 'request failed';
    try {
      const parsed = JSON.parse(text) as { error_class?: unknown; description?: unknown };
      if (typeof parsed.error_class === 'string') errorClass = parsed.error_class;
      if (typeof parsed.description === 'string') description = parsed.description;
    } catch {
      // Not an API error body (a proxy's page, say): the status line stands for it.
    }
    const hint =
      status === 401 && errorClass === 'http_unauthorized_error'
        ? this.hasToken
          ? 'the session or token is no longer valid: run `enclave login` again'
          : 'not logged in: run `enclave login`, or set ENCLAVE_TOKEN'
        : undefined;
    throw new ApiRequestError(status, errorClass, description, hint);
  }

  private connectionError(error: NodeJS.ErrnoException): CliError {
    const where = this.baseUrl.origin;
    if (error.code !== undefined && UNTRUSTED_CERTIFICATE_CODES.has(error.code)) {
      return new CliError(
        `the TLS certificate of ${where} is not trusted (${error.code}: ${error.message}). ` +
          'A new instance uses a self-signed certificate: pass --insecure to accept it, or --ca-file PEM to trust a given CA.',
        EXIT_FAILURE,
      );
    }
    return new CliError(`cannot reach the API at ${where}: ${error.message} (is the server running? set --api or ENCLAVE_API)`, EXIT_FAILURE);
  }
}

function withQuery(path: string, query: Query): string {
  if (query === undefined) return path;
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${text}`;
}

async function readAll(stream: Readable, bytesMax: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > bytesMax) {
      stream.destroy();
      throw new CliError(`the server's answer is larger than ${bytesMax} bytes`, EXIT_FAILURE);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** `/v1/files/{ref}`: a file id as is, an absolute path URL-encoded (`%2Fdir%2Ffile`). */
export function fileRef(pathOrId: string): string {
  if (/^[0-9]{1,16}$/.test(pathOrId)) return pathOrId;
  if (!pathOrId.startsWith('/')) throw new CliError(`${JSON.stringify(pathOrId)} is not an absolute path (like /dir/file) or a file id`, EXIT_USAGE);
  return encodeURIComponent(pathOrId);
}

/** Every page of a paginated listing: follows `paging.next` until there is none. */
export async function allPages<T>(client: ApiClient, path: string, field: string, query?: Query): Promise<T[]> {
  const items: T[] = [];
  let next: string | undefined = path;
  let first = true;
  while (next !== undefined) {
    const page: Record<string, unknown> = await client.call<Record<string, unknown>>('GET', next, first ? { query } : {});
    first = false;
    items.push(...((page[field] as T[] | undefined) ?? []));
    const paging = page.paging as { next?: string } | undefined;
    next = paging?.next === undefined || paging.next === '' ? undefined : paging.next;
  }
  return items;
}
