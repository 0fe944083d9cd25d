import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Nfs3Status } from '../src/protocols/nfs/v3/nfs3-types.js';
import { openNfsFixture, type NfsFixture } from '../src/protocols/nfs/testing/nfs-fixture.test-support.js';
import { NfsTestClient } from '../src/protocols/nfs/testing/nfs-test-client.test-support.js';
import { create, getattr, lookup, mkdir, mountHandle, nfs, readdirplus, readPostOp, writeSattr } from '../src/protocols/nfs/testing/nfs3-wire.test-support.js';

const run = promisify(execFile);
const TOOL_TIMEOUT_MS = 60_000;
const missing = ['nfs-ls', 'nfs-cat'].filter((tool) => !existsSync(`/usr/bin/${tool}`));
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

async function read(client: NfsTestClient, handle: Uint8Array): Promise<{ status: number; text?: string }> {
  const reply = await nfs(client, 6, (writer) => writer.opaque(handle).uint64(0n).uint32(65_536));
  const status = reply.body.uint32();
  readPostOp(reply.body);
  if (status !== 0) return { status };
  reply.body.uint32();
  reply.body.bool();
  return { status, text: new TextDecoder().decode(reply.body.opaque(65_536)) };
}

async function write(client: NfsTestClient, handle: Uint8Array, text: string): Promise<number> {
  return (await nfs(client, 7, (writer) => writer.opaque(handle).uint64(0n).uint32(text.length).uint32(2).opaque(bytes(text)))).body.uint32();
}

async function allNames(client: NfsTestClient, dir: Uint8Array): Promise<string[]> {
  const names: string[] = [];
  let cookie = 0n;
  let verifier: Uint8Array = new Uint8Array(8);
  for (;;) {
    const page = await readdirplus(client, dir, { cookie, verifier, maxcount: 4096 });
    assert.equal(page.status, 0);
    names.push(...page.entries.map((entry) => entry.name));
    if (page.eof) return names;
    cookie = page.entries.at(-1)?.cookie ?? 0n;
    verifier = page.verifier ?? verifier;
  }
}

/** `.snapshot` over NFSv3: navigable, readable, read-only, confined to the export. */
describe('NFSv3 .snapshot directories', () => {
  let fixture: NfsFixture;
  let client: NfsTestClient;
  let root: Uint8Array;
  let snapshotName: string;
  let wholeTreeName: string;
  const url = (path: string) => `nfs://127.0.0.1${path}?nfsport=${fixture.port}&mountport=${fixture.port}&version=3`;

  before(async () => {
    fixture = await openNfsFixture();
    const { fs, root: ctx } = fixture.core;
    const docs = await fs.mkdir(ctx, fixture.dataDir, 'docs', { mode: 0o777 });
    const plan = await fs.create(ctx, docs.handle, 'plan.txt', { mode: 0o666 });
    await fs.write(ctx, plan.handle, { offset: 0, data: bytes('version one\n') });
    await fs.create(ctx, fixture.dataDir, 'top.txt', { mode: 0o666 });
    const snapshot = await fs.createSnapshot(ctx, fixture.dataDir, { name: 'before' });
    snapshotName = `${snapshot.id}_before`;
    // A snapshot of the whole tree: its view of the export root has a parent outside the export.
    const whole = await fs.createSnapshot(ctx, await fs.root(ctx), { name: 'everything' });
    wholeTreeName = `${whole.id}_everything`;
    await fs.write(ctx, plan.handle, { offset: 0, data: bytes('VERSION TWO, live\n') });
    await fs.create(ctx, docs.handle, 'added-later.txt', { mode: 0o666 });
    client = await NfsTestClient.open(fixture.port);
    root = (await mountHandle(client, '/data')).handle as Uint8Array;
  });

  after(async () => {
    client.close();
    await fixture.close();
  });

  it('LOOKUP .snapshot and into a snapshot, READ the old data while the live file changed', async () => {
    const dotSnapshot = await lookup(client, root, '.snapshot');
    assert.equal(dotSnapshot.status, 0);
    assert.equal(dotSnapshot.attributes?.type, 2);
    const names = await allNames(client, dotSnapshot.handle as Uint8Array);
    assert.deepEqual(names.filter((name) => name !== '.' && name !== '..').sort(), [snapshotName, wholeTreeName].sort());
    const view = await lookup(client, dotSnapshot.handle as Uint8Array, snapshotName);
    assert.equal(view.status, 0);
    const docs = await lookup(client, view.handle as Uint8Array, 'docs');
    assert.deepEqual((await allNames(client, docs.handle as Uint8Array)).sort(), ['.', '..', 'plan.txt']);
    const plan = await lookup(client, docs.handle as Uint8Array, 'plan.txt');
    assert.equal((await read(client, plan.handle as Uint8Array)).text, 'version one\n');
    const live = await lookup(client, await liveDocs(), 'plan.txt');
    assert.equal((await read(client, live.handle as Uint8Array)).text, 'VERSION TWO, live\n');
    assert.equal((await lookup(client, view.handle as Uint8Array, 'no-such')).status, Nfs3Status.NOENT);
    assert.equal((await lookup(client, dotSnapshot.handle as Uint8Array, '999_nothing')).status, Nfs3Status.NOENT);
  });

  async function liveDocs(): Promise<Uint8Array> {
    return (await lookup(client, root, 'docs')).handle as Uint8Array;
  }

  async function snapshotDocs(): Promise<{ dotSnapshot: Uint8Array; view: Uint8Array; docs: Uint8Array; plan: Uint8Array }> {
    const dotSnapshot = (await lookup(client, root, '.snapshot')).handle as Uint8Array;
    const view = (await lookup(client, dotSnapshot, snapshotName)).handle as Uint8Array;
    const docs = (await lookup(client, view, 'docs')).handle as Uint8Array;
    const plan = (await lookup(client, docs, 'plan.txt')).handle as Uint8Array;
    return { dotSnapshot, view, docs, plan };
  }

  it('every mutation in a snapshot or a .snapshot directory is ROFS, and the live tree is untouched', async () => {
    const { dotSnapshot, view, docs, plan } = await snapshotDocs();
    assert.equal(await write(client, plan, 'overwrite'), Nfs3Status.ROFS);
    assert.equal((await create(client, docs, 'new.txt', { mode: 0 })).status, Nfs3Status.ROFS);
    assert.equal((await create(client, dotSnapshot, 'new.txt', { mode: 0 })).status, Nfs3Status.ROFS);
    assert.equal((await mkdir(client, view, 'newdir')).status, Nfs3Status.ROFS);
    assert.equal((await nfs(client, 12, (writer) => writer.opaque(docs).string('plan.txt'))).body.uint32(), Nfs3Status.ROFS);
    assert.equal((await nfs(client, 13, (writer) => writer.opaque(view).string('docs'))).body.uint32(), Nfs3Status.ROFS);
    const setattr = await nfs(client, 2, (writer) => {
      writer.opaque(plan);
      writeSattr(writer, { mode: 0o600 });
      writer.bool(false);
    });
    assert.equal(setattr.body.uint32(), Nfs3Status.ROFS);
    // RENAME out of a snapshot (source dir in it) and into one (target dir in it).
    assert.equal((await nfs(client, 14, (writer) => writer.opaque(docs).string('plan.txt').opaque(root).string('stolen.txt'))).body.uint32(), Nfs3Status.ROFS);
    assert.equal((await nfs(client, 14, (writer) => writer.opaque(root).string('top.txt').opaque(docs).string('planted.txt'))).body.uint32(), Nfs3Status.ROFS);
    // LINK of a snapshot file into the live tree.
    assert.equal((await nfs(client, 15, (writer) => writer.opaque(plan).opaque(root).string('linked.txt'))).body.uint32(), Nfs3Status.ROFS);
    assert.equal((await read(client, plan)).text, 'version one\n');
    assert.equal((await lookup(client, root, 'top.txt')).status, 0);
    assert.equal((await lookup(client, root, 'stolen.txt')).status, Nfs3Status.NOENT);
  });

  it('.. climbs back: snapshot dir -> snapshot view -> .snapshot -> the live export root, never above it', async () => {
    const { dotSnapshot, view, docs } = await snapshotDocs();
    const idOf = async (handle: Uint8Array) => (await getattr(client, handle)).attributes?.fileid;
    const up = async (handle: Uint8Array) => {
      const found = await lookup(client, handle, '..');
      assert.equal(found.status, 0);
      return found.handle as Uint8Array;
    };
    assert.deepEqual(await up(docs), view);
    assert.deepEqual(await up(view), dotSnapshot);
    assert.deepEqual(await up(dotSnapshot), root);
    assert.deepEqual(await up(root), root);
    // The whole-tree snapshot's view of the export root: its parent (/exports) is outside the export.
    const wholeView = (await lookup(client, dotSnapshot, wholeTreeName)).handle as Uint8Array;
    assert.deepEqual(await up(wholeView), dotSnapshot);
    const wholeDocs = (await lookup(client, wholeView, 'docs')).handle as Uint8Array;
    assert.deepEqual(await up(wholeDocs), wholeView);
    assert.equal(await idOf(wholeDocs), await idOf(docs));
  });

  it('READDIR lists . and .. first, never .snapshot, and cookies after them resume correctly', async () => {
    const names = await allNames(client, root);
    assert.deepEqual(names.slice(0, 2), ['.', '..']);
    assert.ok(!names.includes('.snapshot'));
    assert.ok(names.includes('docs') && names.includes('top.txt'));
    const first = await readdirplus(client, root, { cookie: 0n, verifier: new Uint8Array(8), maxcount: 4096 });
    const dot = first.entries[0];
    const dotDot = first.entries[1];
    assert.equal(dot?.name, '.');
    assert.deepEqual(dot?.handle, root);
    assert.equal(dotDot?.handle, undefined);
    const afterDot = await readdirplus(client, root, { cookie: dot?.cookie ?? 0n, verifier: first.verifier ?? new Uint8Array(8), maxcount: 4096 });
    assert.deepEqual(afterDot.entries.map((entry) => entry.name), names.slice(1));
    const afterDotDot = await readdirplus(client, root, { cookie: dotDot?.cookie ?? 0n, verifier: first.verifier ?? new Uint8Array(8), maxcount: 4096 });
    assert.deepEqual(afterDotDot.entries.map((entry) => entry.name), names.slice(2));
    // Plain READDIR (procedure 16) too.
    const reply = await nfs(client, 16, (writer) => writer.opaque(root).uint64(0n).fixedOpaque(new Uint8Array(8)).uint32(4096));
    assert.equal(reply.body.uint32(), 0);
    readPostOp(reply.body);
    reply.body.fixedOpaque(8);
    const plain: string[] = [];
    while (reply.body.bool()) {
      reply.body.uint64();
      plain.push(reply.body.string(1024));
      reply.body.uint64();
    }
    assert.deepEqual(plain, names);
  });

  it('a deleted snapshot makes its handles STALE', async () => {
    const { fs, root: ctx } = fixture.core;
    const temporary = await fs.createSnapshot(ctx, fixture.dataDir, { name: 'temporary' });
    const dotSnapshot = (await lookup(client, root, '.snapshot')).handle as Uint8Array;
    const view = (await lookup(client, dotSnapshot, `${temporary.id}_temporary`)).handle as Uint8Array;
    assert.equal((await getattr(client, view)).status, 0);
    await fs.deleteSnapshot(ctx, temporary.id);
    assert.equal((await getattr(client, view)).status, Nfs3Status.STALE);
  });

  describe('with the libnfs tools', { skip: missing.length > 0 ? `needs Debian libnfs-utils (missing ${missing.join(', ')})` : false }, () => {
    it('nfs-ls lists .snapshot and a snapshot; nfs-cat reads a file as it was', async () => {
      const listed = await run('nfs-ls', [url('/data/.snapshot')], { timeout: TOOL_TIMEOUT_MS });
      assert.match(listed.stdout, new RegExp(` ${snapshotName}$`, 'm'));
      const inside = await run('nfs-ls', [url(`/data/.snapshot/${snapshotName}/docs`)], { timeout: TOOL_TIMEOUT_MS });
      assert.match(inside.stdout, / plan\.txt$/m);
      assert.doesNotMatch(inside.stdout, /added-later/);
      const old = await run('nfs-cat', [url(`/data/.snapshot/${snapshotName}/docs/plan.txt`)], { timeout: TOOL_TIMEOUT_MS });
      assert.equal(old.stdout, 'version one\n');
      const live = await run('nfs-cat', [url('/data/docs/plan.txt')], { timeout: TOOL_TIMEOUT_MS });
      assert.equal(live.stdout, 'VERSION TWO, live\n');
      const top = await run('nfs-ls', [url('/data')], { timeout: TOOL_TIMEOUT_MS });
      assert.doesNotMatch(top.stdout, /\.snapshot/);
    });
  });
});

