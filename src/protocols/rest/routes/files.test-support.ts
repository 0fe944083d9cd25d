import type { OpContext } from '../../../core/context.js';
import type { FileSystem, NodeHandle } from '../../../core/file-system.js';
import { openCoreFixture, silentLogger, type CoreFixture } from '../../../core/testing/core-fixture.test-support.js';
import type { ApiApp, ApiRoute } from '../route.js';
import { openApiHarness, type TestCaller } from '../testing/api-harness.test-support.js';
import type { HandleLookup } from './files-common.js';

/** Callers of the file tests. All are ordinary users (uid 1000 owns /home/user); none is a superuser. */
export const USER: TestCaller = { name: 'user', privileges: ['FILE_READ', 'FILE_WRITE', 'QUOTA_READ', 'QUOTA_WRITE'], principal: { uid: 1000, gids: [100], name: 'user' } };
export const READER: TestCaller = { name: 'reader', privileges: ['FILE_READ', 'QUOTA_READ'], principal: { uid: 1000, gids: [100], name: 'reader' } };
/** Has the API privileges but is not the owner: the ACLs decide what it may do. */
export const STRANGER: TestCaller = { name: 'stranger', privileges: ['FILE_READ', 'FILE_WRITE'], principal: { uid: 2001, gids: [200], name: 'stranger' } };
export const NOBODY: TestCaller = { name: 'nobody', privileges: [], principal: { uid: 2002, gids: [200], name: 'nobody' } };
export const FILE_CALLERS = [USER, READER, STRANGER, NOBODY];

/** The server's lookup: core's handleOf. */
export function handleLookupByWalk(fs: FileSystem): HandleLookup {
  return (ctx: OpContext, id: number): Promise<NodeHandle> => fs.handleOf(ctx, id);
}

/**
 * The API server's request pipeline (error mapping, route registration, the test authorizer) with
 * what the file routes need from the server: the octet-stream upload parser and long refs.
 * createApiServer does not take those yet; this mirrors openApiHarness plus them.
 */
export async function openFileApiHarness(routes: readonly ApiRoute[], callers: readonly TestCaller[] = FILE_CALLERS): Promise<ApiApp> {
  // The real server (strict validation, response checks, the upload parser, long refs).
  return openApiHarness(routes, callers);
}

export interface FileTestWorld {
  readonly core: CoreFixture;
  readonly app: ApiApp;
  readonly handleOf: HandleLookup;
  /** /home/user, owned by uid 1000 gid 100, mode 0755. */
  readonly home: NodeHandle;
  close(): Promise<void>;
}

export async function openFileTestWorld(makeRoutes: (deps: { fs: FileSystem; logger: typeof silentLogger; handleOf: HandleLookup }) => ApiRoute[]): Promise<FileTestWorld> {
  const core = await openCoreFixture();
  const handleOf = handleLookupByWalk(core.fs);
  const root = await core.fs.root(core.root);
  const homes = await core.fs.mkdir(core.root, root, 'home', { mode: 0o755 });
  const home = await core.fs.mkdir(core.root, homes.handle, 'user', { mode: 0o755, uid: 1000, gid: 100 });
  const app = await openFileApiHarness(makeRoutes({ fs: core.fs, logger: silentLogger, handleOf }));
  return {
    core,
    app,
    handleOf,
    home: home.handle,
    close: async () => {
      await app.close();
      await core.close();
    },
  };
}

/** A path as a ref in a URL: percent-encoded, `/` included. */
export function refOf(path: string): string {
  return encodeURIComponent(path);
}
