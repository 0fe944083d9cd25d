import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { testConfig } from './support/test-config.js';
import { systemContext } from '../src/core/context.js';
import { openInstance } from '../src/main.js';
import { createLogger } from '../src/ops/logger.js';
import { serve, type Server } from '../src/serve.js';
import { runEnclave, type CliRun } from './support/cli-runner.js';

const ADMIN_PASSWORD = 'Snapshot-Cli-Password-77';
const silent = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });

function assertExit(run: CliRun, code: number): void {
  assert.equal(run.code, code, `exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

function keyPairFiles(dir: string, name: string): { publicFile: string; privateFile: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicFile = join(dir, `${name}.pub.pem`);
  const privateFile = join(dir, `${name}.pem`);
  writeFileSync(publicFile, publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { publicFile, privateFile };
}

describe('the enclave CLI: snapshots, policies, keys and fsck against a real server', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'enclave-cli-snapshots-'));
  const dataDir = join(scratch, 'data');
  const configDir = join(scratch, 'config');
  let server: Server;
  let api: string;
  const enclave = (args: readonly string[], options: { input?: string } = {}) =>
    runEnclave(['--insecure', ...args], { ...options, environment: { ENCLAVE_API: api, ENCLAVE_CONFIG_DIR: configDir } });
  const logger = createLogger({ level: 'silent' });

  before(async () => {
    server = await serve({
      config: { ...testConfig(), dataDir, apiPort: 0, logLevel: 'silent' },
      logger,
      environment: { ENCLAVE_ADMIN_PASSWORD: ADMIN_PASSWORD },
      stdout: silent(),
    });
    api = `https://127.0.0.1:${server.ports.api as number}`;
    const fs = server.instance.fileSystem;
    const ctx = systemContext(logger);
    const dir = await fs.mkdir(ctx, await fs.root(ctx), 'snap');
    const file = await fs.create(ctx, dir.handle, 'report.txt');
    await fs.write(ctx, file.handle, { offset: 0, data: new Uint8Array(300_000).fill(7) });
    assertExit(await enclave(['login', '--username', 'admin'], { input: `${ADMIN_PASSWORD}\n` }), 0);
  });
  after(async () => {
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('registers a key, locks a snapshot, refuses its deletion, unlocks it with the private key, deletes it', async () => {
    const lockKey = keyPairFiles(scratch, 'lock');
    const otherKey = keyPairFiles(scratch, 'other');
    const added = await enclave(['keys', 'add', 'vault', '--public-key', lockKey.publicFile, '--private-key-file', lockKey.privateFile, '--comment', 'offline key', '--json']);
    assertExit(added, 0);
    assert.equal((JSON.parse(added.stdout) as { name: string }).name, 'vault');
    const mismatched = await enclave(['keys', 'add', 'bad', '--public-key', lockKey.publicFile, '--private-key-file', otherKey.privateFile]);
    assertExit(mismatched, 2);
    const keyList = await enclave(['keys', 'list']);
    assertExit(keyList, 0);
    assert.match(keyList.stdout, /^\S+\s+vault\s+no\s+/m);

    const created = await enclave(['snapshot', 'create', '/snap', '--name', 'guarded', '--expire', '30d', '--lock', 'vault', '--json']);
    assertExit(created, 0);
    const snapshot = JSON.parse(created.stdout) as { id: number; name: string; locked: boolean; expiration: string };
    assert.equal(snapshot.locked, true);
    assert.equal(snapshot.name, `${snapshot.id}_guarded`);
    assert.ok(Date.parse(snapshot.expiration) > Date.now() + 29 * 86_400_000);
    const id = String(snapshot.id);

    const list = await enclave(['snapshot', 'list']);
    assertExit(list, 0);
    assert.match(list.stdout, new RegExp(`^${id}\\s+${id}_guarded\\s+.*yes`, 'm'));

    const refused = await enclave(['snapshot', 'delete', id]);
    assertExit(refused, 1);
    assert.match(refused.stderr, /locked/i);
    const shortened = await enclave(['snapshot', 'expire', id, '1d']);
    assertExit(shortened, 1);
    assertExit(await enclave(['snapshot', 'expire', id, '60d']), 0);

    const wrongKey = await enclave(['snapshot', 'unlock', id, '--private-key-file', otherKey.privateFile]);
    assertExit(wrongKey, 1);
    const stillLocked = JSON.parse((await enclave(['snapshot', 'get', id, '--json'])).stdout) as { locked: boolean; capacity_used_bytes: string };
    assert.equal(stillLocked.locked, true);
    assert.equal(stillLocked.capacity_used_bytes, '0');

    assertExit(await enclave(['keys', 'delete', 'vault']), 1); // in use by the locked snapshot
    const unlocked = await enclave(['snapshot', 'unlock', id, '--private-key-file', lockKey.privateFile]);
    assertExit(unlocked, 0);
    assert.match(unlocked.stdout, new RegExp(`snapshot ${id} unlocked`));
    assertExit(await enclave(['snapshot', 'delete', id]), 0);
    assertExit(await enclave(['snapshot', 'get', id]), 1);
    assertExit(await enclave(['keys', 'delete', 'vault']), 0);
  });

  it('diffs a snapshot against the live tree, by path and by byte region, and reports capacity', async () => {
    const created = JSON.parse((await enclave(['snapshot', 'create', '/snap', '--name', 'before', '--json'])).stdout) as { id: number };
    const fs = server.instance.fileSystem;
    const ctx = systemContext(logger);
    const file = await fs.resolvePath(ctx, '/snap/report.txt');
    await fs.write(ctx, file.handle, { offset: 100_000, data: new Uint8Array(5).fill(1) });
    await fs.create(ctx, (await fs.resolvePath(ctx, '/snap')).handle, 'new.txt');

    const diff = await enclave(['snapshot', 'diff', 'live', String(created.id)]);
    assertExit(diff, 0);
    assert.match(diff.stdout, /^MODIFY\s+\/report\.txt$/m);
    assert.match(diff.stdout, /^CREATE\s+\/new\.txt$/m);
    const regions = await enclave(['snapshot', 'diff', 'live', String(created.id), '--file', 'report.txt', '--json']);
    assertExit(regions, 0);
    assert.deepEqual(JSON.parse(regions.stdout), [{ type: 'FILE_REGION_DATA', offset: '100000', size: '5' }]);

    const shared = JSON.parse((await enclave(['snapshot', 'capacity', '--json'])).stdout) as { total_bytes: string };
    assert.equal(shared.total_bytes, '0', 'a small overwrite keeps sharing the chunk with the live file');
    await fs.setattr(ctx, file.handle, { size: 0 });
    const capacity = await enclave(['snapshot', 'capacity', '--json']);
    assertExit(capacity, 0);
    const { total_bytes: total, snapshots } = JSON.parse(capacity.stdout) as { total_bytes: string; snapshots: Array<{ id: number; capacity_used_bytes: string }> };
    assert.equal(total, '300000', 'after the truncate, the snapshot alone holds the old data');
    assert.deepEqual(snapshots, [{ id: created.id, capacity_used_bytes: '300000' }]);
    assertExit(await enclave(['snapshot', 'delete', String(created.id)]), 0);
  });

  it('creates, lists and deletes a snapshot policy', async () => {
    const created = await enclave(['snapshot', 'policy', 'create', 'hourly-work', '/snap', '--every', '2h', '--window', '08:00-18:00', '--days', 'MON,TUE,WED,THU,FRI', '--time-zone', 'Europe/Paris', '--ttl', '7d', '--json']);
    assertExit(created, 0);
    const policy = JSON.parse(created.stdout) as { id: string; ttl: number; time_zone: string };
    assert.equal(policy.ttl, 7 * 86_400);
    assert.equal(policy.time_zone, 'Europe/Paris');
    const list = await enclave(['snapshot', 'policy', 'list']);
    assertExit(list, 0);
    assert.match(list.stdout, /hourly-work\s+\/snap\s+.*Europe\/Paris/);
    assertExit(await enclave(['snapshot', 'policy', 'create', 'bad', '/snap', '--daily', '02:00', '--every', '1h']), 2);
    assertExit(await enclave(['snapshot', 'policy', 'delete', policy.id]), 0);
    const after = JSON.parse((await enclave(['snapshot', 'policy', 'list', '--json'])).stdout) as unknown[];
    assert.equal(after.length, 0);
  });

  it('disables and enables a key: a disabled key locks nothing new', async () => {
    const key = keyPairFiles(scratch, 'toggle');
    assertExit(await enclave(['keys', 'add', 'toggle', '--public-key', key.publicFile, '--private-key-file', key.privateFile]), 0);
    const snapshot = JSON.parse((await enclave(['snapshot', 'create', '/snap', '--name', 'toggled', '--json'])).stdout) as { id: number };
    const id = String(snapshot.id);

    const disabled = await enclave(['keys', 'disable', 'toggle']);
    assertExit(disabled, 0);
    assert.match(disabled.stdout, /security key toggle \(id \S+\) disabled/);
    assert.match((await enclave(['keys', 'list'])).stdout, /^\S+\s+toggle\s+yes\s+/m);
    const refused = await enclave(['snapshot', 'lock', id, 'toggle']);
    assertExit(refused, 1);
    assert.match(refused.stderr, /disabled/);

    const enabled = await enclave(['keys', 'enable', 'toggle', '--json']);
    assertExit(enabled, 0);
    assert.equal((JSON.parse(enabled.stdout) as { disabled: boolean }).disabled, false);
    const got = await enclave(['keys', 'get', 'toggle']);
    assertExit(got, 0);
    assert.match(got.stdout, /^disabled\s+no$/m);
    assert.match(got.stdout, /-----BEGIN PUBLIC KEY-----/);
    assertExit(await enclave(['snapshot', 'lock', id, 'toggle']), 0);
    assertExit(await enclave(['snapshot', 'unlock', id, '--private-key-file', key.privateFile]), 0);
    assertExit(await enclave(['snapshot', 'delete', id]), 0);
    assertExit(await enclave(['keys', 'delete', 'toggle']), 0);
  });

  it('rotates a key: both private keys sign the challenge, and the new private key unlocks', async () => {
    const oldKey = keyPairFiles(scratch, 'rotor-old');
    const newKey = keyPairFiles(scratch, 'rotor-new');
    const stranger = keyPairFiles(scratch, 'rotor-stranger');
    const added = JSON.parse((await enclave(['keys', 'add', 'rotor', '--public-key', oldKey.publicFile, '--private-key-file', oldKey.privateFile, '--json'])).stdout) as {
      id: string;
      fingerprint_sha256: string;
      version: number;
    };

    // The new private key must match the new public key; the old one must be the registered one.
    assertExit(await enclave(['keys', 'rotate', 'rotor', '--public-key', newKey.publicFile, '--old-private-key-file', oldKey.privateFile, '--new-private-key-file', stranger.privateFile]), 2);
    const wrongOld = await enclave(['keys', 'rotate', 'rotor', '--public-key', newKey.publicFile, '--old-private-key-file', stranger.privateFile, '--new-private-key-file', newKey.privateFile]);
    assertExit(wrongOld, 1);
    assert.match(wrongOld.stderr, /old_key_signature/);

    const rotated = await enclave(['keys', 'rotate', 'rotor', '--public-key', newKey.publicFile, '--old-private-key-file', oldKey.privateFile, '--new-private-key-file', newKey.privateFile, '--json']);
    assertExit(rotated, 0);
    const key = JSON.parse(rotated.stdout) as { id: string; name: string; fingerprint_sha256: string; version: number };
    assert.equal(key.id, added.id);
    assert.equal(key.name, 'rotor');
    assert.notEqual(key.fingerprint_sha256, added.fingerprint_sha256);
    assert.equal(key.version, added.version + 1);

    const snapshot = JSON.parse((await enclave(['snapshot', 'create', '/snap', '--name', 'rotated', '--json'])).stdout) as { id: number };
    const id = String(snapshot.id);
    assertExit(await enclave(['snapshot', 'lock', id, 'rotor']), 0);
    assertExit(await enclave(['snapshot', 'unlock', id, '--private-key-file', oldKey.privateFile]), 1);
    const unlocked = await enclave(['snapshot', 'unlock', id, '--private-key-file', newKey.privateFile]);
    assertExit(unlocked, 0);
    assert.match(unlocked.stdout, new RegExp(`snapshot ${id} unlocked`));

    // A second rotation signs the next version's challenge (back to the first key), in human output.
    const again = await enclave(['keys', 'rotate', 'rotor', '--public-key', oldKey.publicFile, '--old-private-key-file', newKey.privateFile, '--new-private-key-file', oldKey.privateFile]);
    assertExit(again, 0);
    assert.match(again.stdout, new RegExp(`security key rotor \\(id ${key.id}\\) rotated to version ${key.version + 1}`));
    assertExit(await enclave(['snapshot', 'delete', id]), 0);
    assertExit(await enclave(['keys', 'delete', 'rotor']), 0);
  });

  it('gets, modifies (disable, TTL, name) and reports the status of a snapshot policy', async () => {
    const created = JSON.parse((await enclave(['snapshot', 'policy', 'create', 'nightly', '/snap', '--daily', '02:00', '--ttl', '7d', '--json'])).stdout) as { id: string };
    const got = await enclave(['snapshot', 'policy', 'get', created.id]);
    assertExit(got, 0);
    assert.match(got.stdout, /^name\s+nightly$/m);
    assert.match(got.stdout, /^ttl\s+1w$/m);
    const enabledStatus = JSON.parse((await enclave(['snapshot', 'policy', 'status', created.id, '--json'])).stdout) as { enabled: boolean; next_run: string | null };
    assert.equal(enabledStatus.enabled, true);
    assert.ok(enabledStatus.next_run !== null && Date.parse(enabledStatus.next_run) > Date.now());

    assertExit(await enclave(['snapshot', 'policy', 'modify', created.id]), 2);
    assertExit(await enclave(['snapshot', 'policy', 'modify', created.id, '--enable', '--disable']), 2);
    assertExit(await enclave(['snapshot', 'policy', 'modify', created.id, '--ttl', 'soon']), 2);
    const modified = await enclave(['snapshot', 'policy', 'modify', created.id, '--disable', '--ttl', '30d', '--name', 'nightly-off', '--json']);
    assertExit(modified, 0);
    const policy = JSON.parse(modified.stdout) as { name: string; enabled: boolean; ttl: number; schedule: unknown };
    assert.equal(policy.name, 'nightly-off');
    assert.equal(policy.enabled, false);
    assert.equal(policy.ttl, 30 * 86_400);
    assert.deepEqual(policy.schedule, { daily: { at: '02:00' } }, 'the fields not given stay');

    const status = await enclave(['snapshot', 'policy', 'status', created.id]);
    assertExit(status, 0);
    assert.match(status.stdout, /^enabled\s+no$/m);
    assert.match(status.stdout, /^next_run\s+- \(disabled\)$/m);
    const statusJson = JSON.parse((await enclave(['snapshot', 'policy', 'status', created.id, '--json'])).stdout) as { id: string; enabled: boolean; next_run: string | null };
    assert.deepEqual({ id: statusJson.id, enabled: statusJson.enabled, next_run: statusJson.next_run }, { id: created.id, enabled: false, next_run: null });

    const reenabled = await enclave(['snapshot', 'policy', 'modify', created.id, '--enable', '--ttl', 'never']);
    assertExit(reenabled, 0);
    assert.match(reenabled.stdout, /^enabled\s+yes$/m);
    assert.match(reenabled.stdout, /^ttl\s+never$/m);
    assertExit(await enclave(['snapshot', 'policy', 'status', 'no-such-policy']), 1);
    assertExit(await enclave(['snapshot', 'policy', 'delete', created.id]), 0);
  });

  it('restores a deleted file and a directory from a snapshot; refuses an existing target unless --overwrite', async () => {
    const fs = server.instance.fileSystem;
    const ctx = systemContext(logger);
    const area = await fs.mkdir(ctx, await fs.root(ctx), 'restore-area', { mode: 0o777 });
    const file = await fs.create(ctx, area.handle, 'draft.txt', { mode: 0o666 });
    await fs.write(ctx, file.handle, { offset: 0, data: new TextEncoder().encode('the draft') });
    const snapshot = JSON.parse((await enclave(['snapshot', 'create', '/restore-area', '--name', 'restore-me', '--json'])).stdout) as { id: number };
    const id = String(snapshot.id);
    await fs.remove(ctx, area.handle, 'draft.txt');

    const restored = await enclave(['snapshots', 'restore', id, '/restore-area/draft.txt', '--path', 'draft.txt']);
    assertExit(restored, 0);
    assert.match(restored.stdout, new RegExp(`restored snapshot ${id} draft.txt to /restore-area/draft.txt: 1 files, 0 directories, 0 symlinks`));
    const back = await fs.resolvePath(ctx, '/restore-area/draft.txt');
    assert.equal(new TextDecoder().decode((await fs.read(ctx, back.handle, { offset: 0, length: 100 })).data), 'the draft');

    const refused = await enclave(['snapshot', 'restore', id, '/restore-area/draft.txt', '--path', 'draft.txt']);
    assertExit(refused, 1);
    assert.match(refused.stderr, /exists/);
    const replaced = await enclave(['snapshot', 'restore', id, '/restore-area/draft.txt', '--path', 'draft.txt', '--overwrite', '--json']);
    assertExit(replaced, 0);
    assert.equal((JSON.parse(replaced.stdout) as { replaced: number }).replaced, 1);
    const whole = JSON.parse((await enclave(['snapshot', 'restore', id, '/restore-area/copy', '--json'])).stdout) as { files: number; directories: number; bytes: string };
    assert.deepEqual({ files: whole.files, directories: whole.directories, bytes: whole.bytes }, { files: 1, directories: 1, bytes: '9' });
    assertExit(await enclave(['snapshot', 'restore', id, 'relative/path']), 2);
    assertExit(await enclave(['snapshot', 'delete', id]), 0);
  });

  it('fsck --online checks the live stores read-only', async () => {
    const run = await enclave(['fsck', '--online']);
    assertExit(run, 0);
    assert.match(run.stdout, /fsck: no problems found/);
  });

  it('fsck --data-dir checks a stopped instance offline: exit 0 when consistent, 1 with a missing chunk', async () => {
    const offlineDir = join(scratch, 'offline');
    const instance = await openInstance({ ...testConfig(), dataDir: offlineDir }, logger, { environment: { ENCLAVE_ADMIN_PASSWORD: ADMIN_PASSWORD }, stdout: silent() });
    const ctx = systemContext(logger);
    const fs = instance.fileSystem;
    const file = await fs.create(ctx, await fs.root(ctx), 'big');
    await fs.write(ctx, file.handle, { offset: 0, data: new Uint8Array(200_000).fill(3) });
    await instance.close();

    const clean = await runEnclave(['fsck', '--data-dir', offlineDir], { environment: { ENCLAVE_CONFIG_DIR: configDir } });
    assertExit(clean, 0);
    assert.match(clean.stdout, /fsck: no problems found/);
    // Remove the chunk file behind the store's back.
    const chunkFiles: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else chunkFiles.push(path);
      }
    };
    walk(join(offlineDir, 'chunks'));
    assert.ok(chunkFiles.length > 0);
    for (const path of chunkFiles) rmSync(path);
    const broken = await runEnclave(['fsck', '--data-dir', offlineDir, '--json'], { environment: { ENCLAVE_CONFIG_DIR: configDir } });
    assertExit(broken, 1);
    const report = JSON.parse(broken.stdout) as { ok: boolean; problems: string[] };
    assert.equal(report.ok, false);
    assert.ok(report.problems.some((problem) => problem.includes('missing from the chunk store')), report.problems.join('\n'));
  });
});
