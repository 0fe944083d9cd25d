import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DATA_EXPORT, exportOf, openNfsFixture, type NfsFixture } from '../src/protocols/nfs/testing/nfs-fixture.test-support.js';

const run = promisify(execFile);
const TOOL_TIMEOUT_MS = 60_000;
// Debian package libnfs-utils provides nfs-cp, nfs-ls and nfs-cat (libnfs 4.0; no nfs-stat in bookworm).
const missing = ['nfs-cp', 'nfs-ls', 'nfs-cat'].filter((tool) => !existsSync(`/usr/bin/${tool}`));

/** The real libnfs client tools against a server built on a core fixture. */
describe('NFSv3 with the libnfs tools', { skip: missing.length > 0 ? `needs Debian libnfs-utils (missing ${missing.join(', ')})` : false }, () => {
  let fixture: NfsFixture;
  let scratch: string;
  const url = (path: string) => `nfs://127.0.0.1${path}?nfsport=${fixture.port}&mountport=${fixture.port}&version=3`;

  before(async () => {
    fixture = await openNfsFixture();
    scratch = await mkdtemp(join(tmpdir(), 'enclave-nfs-'));
  });

  after(async () => {
    await fixture.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('nfs-cp copies a file in and nfs-cat reads it back', async () => {
    const source = join(scratch, 'hello.txt');
    await writeFile(source, 'hello over NFS\n');
    await run('nfs-cp', [source, url('/data/hello.txt')], { timeout: TOOL_TIMEOUT_MS });
    const { stdout } = await run('nfs-cat', [url('/data/hello.txt')], { timeout: TOOL_TIMEOUT_MS });
    assert.equal(stdout, 'hello over NFS\n');
    const stored = await fixture.core.fs.resolvePath(fixture.core.root, '/exports/data/hello.txt');
    assert.equal(stored.attributes.size, 15);
  });

  it('a multi-MiB file copied in and out with nfs-cp is byte-identical', async () => {
    const content = randomBytes(9 * 1024 * 1024 + 12_345);
    const source = join(scratch, 'big.bin');
    const target = join(scratch, 'big.out');
    await writeFile(source, content);
    await run('nfs-cp', [source, url('/data/big.bin')], { timeout: TOOL_TIMEOUT_MS });
    await run('nfs-cp', [url('/data/big.bin'), target], { timeout: TOOL_TIMEOUT_MS });
    assert.ok(Buffer.compare(await readFile(target), content) === 0);
  });

  it('nfs-ls lists the export, and a file written as root is owned by nobody (root squash)', async () => {
    await run('nfs-cp', [join(scratch, 'hello.txt'), url('/data/rooted.txt')], { timeout: TOOL_TIMEOUT_MS });
    const { stdout } = await run('nfs-ls', [url('/data')], { timeout: TOOL_TIMEOUT_MS });
    const line = stdout.split('\n').find((entry) => entry.endsWith(' rooted.txt'));
    assert.ok(line !== undefined, stdout);
    assert.match(line, /\s65534\s+65534\s/);
    assert.match(stdout, / big\.bin$/m);
  });

  it('a host that no rule admits is refused at MOUNT', async () => {
    fixture.setExports([{ id: DATA_EXPORT.id, value: exportOf({ export_path: '/data', fs_path: '/exports/data', restrictions: [{ host_restrictions: ['192.0.2.0/24'], require_privileged_port: false }] }) }]);
    try {
      await assert.rejects(run('nfs-ls', [url('/data')], { timeout: TOOL_TIMEOUT_MS }), (error: Error & { stderr?: string }) => /MNT3ERR_ACCES/.test(`${error.stderr ?? ''}${error.message}`));
    } finally {
      fixture.setExports([DATA_EXPORT]);
    }
  });

  it('an export that does not exist is NOENT at MOUNT', async () => {
    await assert.rejects(run('nfs-ls', [url('/missing')], { timeout: TOOL_TIMEOUT_MS }), (error: Error & { stderr?: string }) => /MNT3ERR_NOENT/.test(`${error.stderr ?? ''}${error.message}`));
  });
});
