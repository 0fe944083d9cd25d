import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Md5Offload } from './md5-offload.js';
import { MD5_OFFLOAD_MIN_BYTES, readBody, readWholeBody, type BodyOptions } from './payload.js';
import { S3Error } from './errors.js';

const md5 = (...pieces: Uint8Array[]) => {
  const hash = createHash('md5');
  for (const piece of pieces) hash.update(piece);
  return hash.digest('hex');
};

describe('MD5 offload', () => {
  const offloads: Md5Offload[] = [];
  const offload = (options?: ConstructorParameters<typeof Md5Offload>[0]) => {
    const made = new Md5Offload(options);
    offloads.push(made);
    return made;
  };
  after(async () => {
    for (const made of offloads) await made.close();
  });

  it('digests what the calling thread would, for any split of the bytes across slots', async () => {
    const workers = offload({ slotBytes: 1000, slots: 4 });
    const data = randomBytes(10_123);
    for (const cuts of [[], [1], [999, 1000, 1001], [10, 2_500, 7_777], [10_122]]) {
      const session = workers.session();
      let at = 0;
      for (const cut of [...cuts, data.length]) {
        session.update(data.subarray(at, cut));
        at = cut;
      }
      assert.equal((await session.digest()).toString('hex'), md5(data), `cuts ${cuts.join(',')}`);
    }
    const empty = workers.session();
    assert.equal((await empty.digest()).toString('hex'), md5(new Uint8Array(0)));
    assert.equal(workers.freeSlots, 4, 'every slot came back');
  });

  it('with every slot in flight, pieces go over as copies and the digest is still right', async () => {
    const workers = offload({ slotBytes: 64, slots: 1 });
    const data = randomBytes(1_000);
    const session = workers.session();
    session.update(data); // one slot, then copies, all synchronously
    assert.equal((await session.digest()).toString('hex'), md5(data));
  });

  it('keeps concurrent sessions apart', async () => {
    const workers = offload({ slotBytes: 256, slots: 3 });
    const bodies = Array.from({ length: 8 }, (_, index) => randomBytes(300 + index * 211));
    const sessions = bodies.map(() => workers.session());
    for (let offset = 0; offset < 2_000; offset += 100) {
      bodies.forEach((body, index) => sessions[index]?.update(body.subarray(offset, offset + 100)));
    }
    const digests = await Promise.all(sessions.map((session) => session.digest()));
    digests.forEach((digest, index) => assert.equal(digest.toString('hex'), md5(bodies[index] as Buffer)));
  });

  it('an abandoned session gives its slot back once it is collected', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const workers = offload({ slotBytes: 1024, slots: 2 });
    (() => {
      const session = workers.session();
      session.update(randomBytes(100)); // holds a partly filled slot, never digested
    })();
    const free = (): number => workers.freeSlots;
    assert.equal(free(), 1);
    for (let attempt = 0; attempt < 50 && free() !== 2; attempt++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(free(), 2);
  });

  it('closing rejects a digest in flight, and the next session starts a new worker', async () => {
    const workers = offload({ slotBytes: 1024, slots: 2 });
    const session = workers.session();
    session.update(randomBytes(5_000));
    const pending = session.digest();
    await workers.close();
    await assert.rejects(pending, /MD5 worker/);
    const next = workers.session();
    const data = randomBytes(3_000);
    next.update(data);
    assert.equal((await next.digest()).toString('hex'), md5(data));
  });

  describe('request bodies use it from MD5_OFFLOAD_MIN_BYTES on', () => {
    const base = { mode: { kind: 'unsigned' }, bytesMax: 1 << 30 } as unknown as BodyOptions;
    const sessions = (workers: Md5Offload) => {
      let opened = 0;
      const session = workers.session.bind(workers);
      workers.session = () => {
        opened++;
        return session();
      };
      return () => opened;
    };

    it('readWholeBody and readBody answer the same ETag, and check Content-MD5', async () => {
      const workers = offload();
      const opened = sessions(workers);
      const data = randomBytes(MD5_OFFLOAD_MIN_BYTES + 12_345);
      const pieces = [data.subarray(0, 70_000), data.subarray(70_000, 200_000), data.subarray(200_000)];
      const source = () => {
        const listeners = new Map<string, (...args: never[]) => void>();
        const stream = {
          readableEnded: false,
          on(event: string, listener: (...args: never[]) => void) {
            listeners.set(event, listener);
            return stream;
          },
          removeListener() {
            return stream;
          },
          pause() {
            return stream;
          },
        };
        setImmediate(() => {
          for (const piece of pieces) (listeners.get('data') as (chunk: Buffer) => void)(piece);
          (listeners.get('end') as () => void)();
        });
        return stream;
      };
      const whole = await readWholeBody(source(), { ...base, contentLength: data.length, md5Offload: workers });
      assert.equal(whole.result.md5Hex, md5(data));
      assert.ok(whole.data.equals(data));
      assert.ok(whole.data.buffer instanceof SharedArrayBuffer, 'read into shared memory, hashed there');
      const streamed = readBody((async function* () { yield* pieces; })(), { ...base, contentLength: data.length, md5Offload: workers });
      for await (const piece of streamed.pieces) assert.ok(piece.length > 0);
      assert.equal(streamed.finish().md5Hex, md5(data));
      assert.equal(opened(), 2, 'both went through the worker');
      const wrongMd5 = Buffer.alloc(16).toString('base64');
      await assert.rejects(readWholeBody(source(), { ...base, contentLength: data.length, md5Offload: workers, contentMd5: wrongMd5 }), (error: unknown) => error instanceof S3Error && error.code === 'BadDigest');
      // Below the threshold the calling thread hashes.
      const small = randomBytes(1_000);
      const smallBody = readBody((async function* () { yield small; })(), { ...base, contentLength: small.length, md5Offload: workers });
      for await (const piece of smallBody.pieces) assert.equal(piece.length, 1_000);
      assert.equal(smallBody.finish().md5Hex, md5(small));
      assert.equal(opened(), 3, 'the Content-MD5 case used it too; the small body did not');
    });
  });
});
