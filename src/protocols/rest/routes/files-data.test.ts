import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FileSystem } from '../../../core/file-system.js';
import { as } from '../testing/api-harness.test-support.js';
import { DATA_PIECE_BYTES_MAX } from './files-common.js';
import { parseRange } from './files-data.js';
import { fileRoutes } from './files.js';
import { openFileTestWorld, READER, refOf, STRANGER, USER, type FileTestWorld } from './files.test-support.js';

const MIB = 1024 * 1024;
const UPLOAD_BYTES_MAX = 32 * MIB;

/** Deterministic content: byte i is (i * 7 + i >> 8) & 0xff, produced 1 MiB at a time. */
function pattern(offset: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index++) {
    const position = offset + index;
    bytes[index] = (position * 7 + (position >> 8)) & 0xff;
  }
  return bytes;
}

function patternStream(totalBytes: number): Readable {
  async function* pieces(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < totalBytes; offset += MIB) yield pattern(offset, Math.min(MIB, totalBytes - offset));
  }
  return Readable.from(pieces());
}

describe('parseRange', () => {
  it('reads the three forms of RFC 9110 and clamps to the size', () => {
    assert.deepEqual(parseRange('bytes=0-9', 100), { first: 0, last: 9 });
    assert.deepEqual(parseRange('bytes=90-', 100), { first: 90, last: 99 });
    assert.deepEqual(parseRange('bytes=90-1000', 100), { first: 90, last: 99 });
    assert.deepEqual(parseRange('bytes=-10', 100), { first: 90, last: 99 });
    assert.deepEqual(parseRange('bytes=-1000', 100), { first: 0, last: 99 });
  });
  it('says unsatisfiable past the end, and ignores what it does not serve', () => {
    assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
    assert.equal(parseRange(undefined, 100), undefined);
    assert.equal(parseRange('bytes=0-1,5-6', 100), undefined);
    assert.equal(parseRange('items=0-1', 100), undefined);
    assert.equal(parseRange('bytes=9-1', 100), undefined);
  });
});

describe('file routes: data', () => {
  let world: FileTestWorld;
  const reads: number[] = [];
  const writes: number[] = [];
  before(async () => {
    world = await openFileTestWorld((deps) => {
      // Records the size of every read and write the routes make, to show they work in pieces.
      const fs: FileSystem = Object.create(deps.fs, {
        read: { value: async (...args: Parameters<FileSystem['read']>) => { reads.push(args[2].length); return deps.fs.read(...args); } },
        write: { value: async (...args: Parameters<FileSystem['write']>) => { writes.push(args[2].data.length); return deps.fs.write(...args); } },
      }) as FileSystem;
      return fileRoutes({ ...deps, fs, uploadBytesMax: UPLOAD_BYTES_MAX });
    });
    for (const name of ['small', 'big', 'empty', 'private']) {
      await world.app.inject({ method: 'POST', url: `/v1/files/${refOf('/home/user')}/entries`, headers: as(USER), payload: { name, action: 'CREATE_FILE', ...(name === 'private' ? { mode: '0600' } : {}) } });
    }
  });
  after(async () => world.close());

  function put(path: string, payload: string | Buffer | Readable, caller = USER) {
    return world.app.inject({ method: 'PUT', url: `/v1/files/${refOf(path)}/data`, headers: { ...as(caller), 'content-type': 'application/octet-stream' }, payload });
  }

  it('PUT replaces the content and answers the attributes; GET returns it', async () => {
    assert.equal((await put('/home/user/small', 'a much longer first version')).statusCode, 200);
    const response = await put('/home/user/small', '0123456789');
    assert.equal(response.statusCode, 200, response.body);
    assert.equal((response.json() as { size: string }).size, '10');
    const read = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/home/user/small')}/data`, headers: as(READER) });
    assert.equal(read.statusCode, 200);
    assert.equal(read.body, '0123456789');
    assert.equal(read.headers['content-type'], 'application/octet-stream');
    assert.equal(read.headers['accept-ranges'], 'bytes');
  });

  it('Range reads answer 206 with Content-Range, suffix ranges included; past the end 416', async () => {
    const url = `/v1/files/${refOf('/home/user/small')}/data`;
    const cases: Array<[string, string, string]> = [
      ['bytes=2-4', '234', 'bytes 2-4/10'],
      ['bytes=7-', '789', 'bytes 7-9/10'],
      ['bytes=-3', '789', 'bytes 7-9/10'],
      ['bytes=8-100', '89', 'bytes 8-9/10'],
    ];
    for (const [range, body, contentRange] of cases) {
      const response = await world.app.inject({ method: 'GET', url, headers: { ...as(USER), range } });
      assert.equal(response.statusCode, 206, range);
      assert.equal(response.body, body, range);
      assert.equal(response.headers['content-range'], contentRange, range);
    }
    const unsatisfiable = await world.app.inject({ method: 'GET', url, headers: { ...as(USER), range: 'bytes=10-' } });
    assert.equal(unsatisfiable.statusCode, 416);
    assert.equal(unsatisfiable.headers['content-range'], 'bytes */10');
    assert.equal((unsatisfiable.json() as { error_class: string }).error_class, 'http_range_not_satisfiable_error');
    const ignored = await world.app.inject({ method: 'GET', url, headers: { ...as(USER), range: 'bytes=0-1,4-5' } });
    assert.equal(ignored.statusCode, 200);
    assert.equal(ignored.body, '0123456789');
  });

  it('an empty file reads as 200 with no bytes, and a PUT without a body empties a file', async () => {
    const read = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/home/user/empty')}/data`, headers: as(USER) });
    assert.equal(read.statusCode, 200);
    assert.equal(read.body, '');
    await put('/home/user/empty', 'something');
    const emptied = await world.app.inject({ method: 'PUT', url: `/v1/files/${refOf('/home/user/empty')}/data`, headers: as(USER) });
    assert.equal(emptied.statusCode, 200);
    assert.equal((emptied.json() as { size: string }).size, '0');
  });

  it('a 20 MiB upload and download stream through core in pieces of at most 4 MiB', async () => {
    const totalBytes = 20 * MIB;
    const expected = createHash('sha256');
    for (let offset = 0; offset < totalBytes; offset += MIB) expected.update(pattern(offset, MIB));
    writes.length = 0;
    const response = await put('/home/user/big', patternStream(totalBytes));
    assert.equal(response.statusCode, 200, response.body);
    assert.equal((response.json() as { size: string }).size, String(totalBytes));
    assert.ok(writes.length >= 5, `written in ${writes.length} pieces`);
    assert.ok(writes.every((length) => length <= DATA_PIECE_BYTES_MAX));
    reads.length = 0;
    const download = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/home/user/big')}/data`, headers: as(USER) });
    assert.equal(download.statusCode, 200);
    assert.equal(download.headers['content-length'], String(totalBytes));
    assert.equal(createHash('sha256').update(download.rawPayload).digest('hex'), expected.digest('hex'));
    assert.ok(reads.length >= 5, `read in ${reads.length} pieces`);
    assert.ok(reads.every((length) => length <= DATA_PIECE_BYTES_MAX));
    const tail = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/home/user/big')}/data`, headers: { ...as(USER), range: 'bytes=-100' } });
    assert.equal(tail.statusCode, 206);
    assert.deepEqual(tail.rawPayload, pattern(totalBytes - 100, 100));
  });

  it('an upload over uploadBytesMax answers 413, by Content-Length or while streaming', async () => {
    const declared = await world.app.inject({
      method: 'PUT',
      url: `/v1/files/${refOf('/home/user/small')}/data`,
      headers: { ...as(USER), 'content-type': 'application/octet-stream', 'content-length': String(UPLOAD_BYTES_MAX + 1) },
      payload: 'x',
    });
    assert.equal(declared.statusCode, 413);
    const streamed = await put('/home/user/small', patternStream(UPLOAD_BYTES_MAX + MIB));
    assert.equal(streamed.statusCode, 413);
    assert.equal((streamed.json() as { error_class: string }).error_class, 'http_payload_too_large_error');
  });

  it('ACLs apply to data: a stranger cannot read a 0600 file or write one it may only read', async () => {
    await put('/home/user/private', 'secret');
    const read = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/home/user/private')}/data`, headers: as(STRANGER) });
    assert.equal(read.statusCode, 403);
    assert.equal((read.json() as { error_class: string }).error_class, 'fs_access_denied_error');
    const write = await put('/home/user/small', 'overwritten', STRANGER);
    assert.equal(write.statusCode, 403);
    const unchanged = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/home/user/small')}/data`, headers: as(USER) });
    assert.notEqual(unchanged.body, 'overwritten');
  });

  it('data of a directory is refused; PUT to a missing file is 404, with JSON 415', async () => {
    const dir = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/home/user')}/data`, headers: as(USER) });
    assert.equal(dir.statusCode, 409);
    assert.equal((await put('/home/user/missing', 'x')).statusCode, 404);
    const json = await world.app.inject({ method: 'PUT', url: `/v1/files/${refOf('/home/user/small')}/data`, headers: as(USER), payload: { data: 'x' } });
    assert.equal(json.statusCode, 415);
  });
});
