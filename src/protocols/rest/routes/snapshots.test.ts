import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import type { Auditor } from '../../../audit/auditor.js';
import { openTestAudit } from '../../../audit/audit.test-support.js';
import type { LocalAuditLog } from '../../../audit/local-log.js';
import { allChunkIds, openCoreFixture, type CoreFixture } from '../../../core/testing/core-fixture.test-support.js';
import { createLogger } from '../../../ops/logger.js';
import { LockChallenges } from '../../../snapshots/lock-challenges.js';
import { SecurityKeyStore } from '../../../snapshots/security-keys.js';
import { ecdsaKeyPair, ManualClock } from '../../../snapshots/testing.test-support.js';
import { MemoryMetadataStore } from '../../../storage/metadata/memory/memory-metadata-store.js';
import { auditApi } from '../audit-hook.js';
import type { ApiApp } from '../route.js';
import { createApiServer } from '../server.js';
import { as, TEST_ADMIN, TEST_NOBODY, testAuthorizer, type TestCaller } from '../testing/api-harness.test-support.js';
import { snapshotRoutes } from './snapshots.js';

const logger = createLogger({ level: 'silent' });
const HOUR_NS = 3_600_000_000_000n;
/** May restore (FILE_WRITE) but manages no snapshot. */
const RESTORER: TestCaller = { name: 'restorer', privileges: ['FILE_WRITE'], principal: { uid: 1000, gids: [100], name: 'restorer' } };
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The snapshot routes behind the real audit hook, with a core file system and a key store. */
async function openSnapshotApi(fx: CoreFixture, audit: { auditor: Auditor }): Promise<{ app: ApiApp; keys: SecurityKeyStore }> {
  const clock = new ManualClock(Number(fx.clock.nowNs() / 1_000_000n));
  const keys = new SecurityKeyStore({
    metadata: new MemoryMetadataStore(),
    clock,
    keyUsages: async (id) => fx.fs.listSnapshots().filter((snapshot) => snapshot.lockKeyId === id).map((snapshot) => ({ type: 'snapshot' as const, id: String(snapshot.id) })),
  });
  const challenges = new LockChallenges({ clock, randomBytes, findKey: (id) => keys.find(id) });
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  const app = await createApiServer({
    tls: { certificate: pems.cert, privateKey: pems.private },
    logger,
    version: { name: 'enclave', version: '0.0.0-test' },
    bodyBytesMax: 1024 * 1024,
    routes: snapshotRoutes({ fs: fx.fs, keys, challenges, logger }),
    authorize: testAuthorizer([TEST_ADMIN, TEST_NOBODY, RESTORER]),
    instrument: (instance) => auditApi(instance, audit.auditor),
  });
  return { app, keys };
}

/** The events of `operation`, once the hook (it runs after the response) and the auditor wrote them. */
async function eventsOf(audit: { auditor: Auditor; log: LocalAuditLog }, operation: string, count: number) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    await audit.auditor.flush();
    const { events } = await audit.log.query({ limit: 1_000, operation });
    if (events.length >= count || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('snapshot routes: refused unlocks are audited', () => {
  let fx: CoreFixture;
  let audit: Awaited<ReturnType<typeof openTestAudit>>;
  let app: ApiApp;
  let keys: SecurityKeyStore;
  const admin = as(TEST_ADMIN);

  before(async () => {
    fx = await openCoreFixture();
    audit = await openTestAudit();
    ({ app, keys } = await openSnapshotApi(fx, audit));
  });
  after(async () => {
    await app.close();
    await audit.auditor.close();
    await fx.close();
  });

  it('a wrong key, a replayed signature, another snapshot\'s signature and a stale challenge are refused, each audited with its error', async () => {
    const vault = ecdsaKeyPair();
    const stranger = ecdsaKeyPair();
    const key = await keys.create({ name: 'vault', public_key: vault.publicPem, verification_signature: vault.sign('vault') });
    const root = await fx.fs.root(fx.root);
    const expirationNs = fx.clock.nowNs() + 10n * HOUR_NS;
    const first = await fx.fs.createSnapshot(fx.root, root, { name: 'first', expirationNs, lockKeyId: key.id });
    const second = await fx.fs.createSnapshot(fx.root, root, { name: 'second', expirationNs, lockKeyId: key.id });
    const challengeOf = async (id: number): Promise<string> => (await app.inject({ method: 'GET', url: `/v1/snapshots/${id}/unlock-challenge`, headers: admin })).json().challenge as string;
    const unlock = (id: number, signature: string) => app.inject({ method: 'POST', url: `/v1/snapshots/${id}/unlock`, headers: admin, payload: { signature } });

    const wrongKey = await unlock(first.id, stranger.sign(await challengeOf(first.id)));
    assert.equal(wrongKey.statusCode, 403, wrongKey.body);
    const otherSnapshot = await unlock(second.id, vault.sign(await challengeOf(first.id)));
    assert.equal(otherSnapshot.statusCode, 403, otherSnapshot.body);

    const staleChallenge = await challengeOf(second.id);
    const extended = await app.inject({ method: 'PATCH', url: `/v1/snapshots/${second.id}`, headers: admin, payload: { expiration: new Date(Number((expirationNs + HOUR_NS) / 1_000_000n)).toISOString() } });
    assert.equal(extended.statusCode, 200, extended.body);
    const stale = await unlock(second.id, vault.sign(staleChallenge));
    assert.equal(stale.statusCode, 403, stale.body);
    assert.match(stale.json().description, /stale/);

    const signature = vault.sign(await challengeOf(first.id));
    assert.equal((await unlock(first.id, signature)).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: `/v1/snapshots/${first.id}/lock`, headers: admin, payload: { lock_key_ref: 'vault' } })).statusCode, 200);
    await challengeOf(first.id); // an outstanding challenge the replayed signature does not sign
    const replay = await unlock(first.id, signature);
    assert.equal(replay.statusCode, 403, replay.body);
    assert.equal((await fx.fs.getSnapshot(fx.root, first.id)).lockKeyId, key.id, 'still locked');

    const events = await eventsOf(audit, 'snapshots_unlock', 5);
    assert.deepEqual(
      events.map((event) => [event.status, (event.details?.params as { id?: string } | undefined)?.id, event.user.name]),
      [
        ['fs_access_denied_error', String(first.id), 'admin'],
        ['fs_access_denied_error', String(second.id), 'admin'],
        ['fs_access_denied_error', String(second.id), 'admin'],
        ['ok', String(first.id), 'admin'],
        ['fs_access_denied_error', String(first.id), 'admin'],
      ],
    );
  });
});

describe('snapshot routes: restore', () => {
  let fx: CoreFixture;
  let audit: Awaited<ReturnType<typeof openTestAudit>>;
  let app: ApiApp;
  let snapshotId: number;

  before(async () => {
    fx = await openCoreFixture();
    audit = await openTestAudit();
    ({ app } = await openSnapshotApi(fx, audit));
    const root = await fx.fs.root(fx.root);
    const projects = (await fx.fs.mkdir(fx.root, root, 'projects', { mode: 0o755 })).handle;
    const plan = (await fx.fs.create(fx.root, projects, 'plan.txt', { mode: 0o644 })).handle;
    await fx.fs.write(fx.root, plan, { offset: 0, data: new Uint8Array(200_000).fill(5) });
    const sub = (await fx.fs.mkdir(fx.root, projects, 'sub', { mode: 0o755 })).handle;
    await fx.fs.write(fx.root, (await fx.fs.create(fx.root, sub, 'notes.txt', { mode: 0o644 })).handle, { offset: 0, data: bytes('notes') });
    await fx.fs.mkdir(fx.root, root, 'home', { mode: 0o755, uid: 1000, gid: 100 });
    snapshotId = (await fx.fs.createSnapshot(fx.root, projects, { name: 'daily' })).id;
    await fx.fs.remove(fx.root, sub, 'notes.txt');
    await fx.fs.rmdir(fx.root, projects, 'sub');
  });
  after(async () => {
    await app.close();
    await audit.auditor.close();
    await fx.close();
  });

  const restore = (payload: Record<string, unknown>, caller: TestCaller = RESTORER) =>
    app.inject({ method: 'POST', url: `/v1/snapshots/${snapshotId}/restore`, headers: as(caller), payload });

  it('POST /v1/snapshots/{id}/restore restores a deleted directory as the caller, sharing chunks, and is audited', async () => {
    const chunksBefore = (await allChunkIds(fx.chunks)).length;
    const answer = await restore({ source_path: 'sub', target_path: '/home/sub' });
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual({ ...(answer.json() as Record<string, unknown>), id: undefined }, { id: undefined, path: '/home/sub', files: 1, directories: 1, symlinks: 0, hard_links: 0, bytes: '5', replaced: 0, owners_not_kept: 2 });
    const whole = await restore({ target_path: '/home/projects' });
    assert.equal(whole.statusCode, 200, whole.body);
    assert.equal(whole.json().bytes, '200005');
    assert.equal((await allChunkIds(fx.chunks)).length, chunksBefore, 'no chunk written');
    const notes = await fx.fs.resolvePath(fx.root, '/home/projects/sub/notes.txt');
    assert.equal(new TextDecoder().decode((await fx.fs.read(fx.root, notes.handle, { offset: 0, length: 10 })).data), 'notes');
    assert.equal(notes.attributes.uid, 1000, 'the caller may not give files to root: they are the caller\'s');
    const events = await eventsOf(audit, 'snapshots_restore', 2);
    assert.deepEqual(events.map((event) => [event.status, event.user.name, event.targetPath]), [['ok', 'restorer', '/home/sub'], ['ok', 'restorer', '/home/projects']]);
  });

  it('refuses an existing target without overwrite (409), replaces with it, and checks ACLs and privileges', async () => {
    const exists = await restore({ source_path: '/plan.txt', target_path: '/home/sub/notes.txt' });
    assert.equal(exists.statusCode, 409);
    assert.equal(exists.json().error_class, 'fs_entry_exists_error');
    const replaced = await restore({ source_path: '/plan.txt', target_path: '/home/sub/notes.txt', overwrite: true });
    assert.equal(replaced.statusCode, 200, replaced.body);
    assert.equal(replaced.json().replaced, 1);
    assert.equal((await fx.fs.getattr(fx.root, (await fx.fs.resolvePath(fx.root, '/home/sub/notes.txt')).handle)).size, 200_000);
    // The caller's ACLs apply: uid 1000 may not write in /projects (root's, 0755).
    const denied = await restore({ source_path: 'plan.txt', target_path: '/projects/plan-copy.txt' });
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().error_class, 'fs_access_denied_error');
    assert.equal((await restore({ target_path: '/home/x' }, TEST_NOBODY)).statusCode, 403, 'FILE_WRITE is needed');
    assert.equal((await restore({ source_path: 'missing', target_path: '/home/x' })).statusCode, 404);
    assert.equal((await restore({ target_path: 'relative' })).statusCode, 400);
    const events = await eventsOf(audit, 'snapshots_restore', 8);
    assert.ok(events.some((event) => event.status === 'fs_entry_exists_error'));
    assert.ok(events.some((event) => event.status === 'fs_access_denied_error'));
  });
});
