import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';

/**
 * MD5 of large request bodies on a worker thread. S3 needs the MD5 of every single-part object
 * and every part (the ETag), and at about 1.4 ms of CPU per MiB it was the largest single cost of
 * a 1 MiB PutObject on the event loop, which runs every protocol. A body's bytes are copied into
 * slots of one SharedArrayBuffer as they arrive (the copy is cheap next to the hash) and each full
 * slot is handed to the worker, which hashes it and gives the slot back; the digest comes back in
 * a message. Nothing is allocated per request on the main thread, so offloading adds no garbage
 * collection work there. When every slot is taken, a piece goes over as a transferred copy instead.
 *
 * Sessions a request abandons (a body that failed half way) give their slot and the worker's hash
 * state back when they are garbage collected. If the worker dies, its sessions' digests reject and
 * the next session starts a new worker.
 */
export interface Md5Session {
  update(data: Uint8Array): void;
  digest(): Promise<Buffer>;
}

/** A buffer the worker can read in place (allocated by `Md5Offload.sharedBuffer`). */
export type SharedBytes = Buffer & { readonly buffer: SharedArrayBuffer };

export interface Md5OffloadOptions {
  /** Bytes per slot (default 1 MiB) and slots (default 16): the shared buffer is their product. */
  readonly slotBytes?: number;
  readonly slots?: number;
}

// CommonJS, evaluated as the worker's script: no file to resolve in dist/ or under tsx.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const shared = Buffer.from(workerData.shared);
const slotBytes = workerData.slotBytes;
const hashes = new Map();
const hashOf = (id) => {
  let hash = hashes.get(id);
  if (hash === undefined) hashes.set(id, (hash = createHash('md5')));
  return hash;
};
parentPort.on('message', (message) => {
  switch (message.op) {
    case 'slot':
      hashOf(message.id).update(shared.subarray(message.slot * slotBytes, message.slot * slotBytes + message.length));
      parentPort.postMessage({ op: 'free', slot: message.slot });
      break;
    case 'bytes':
      hashOf(message.id).update(Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength));
      break;
    case 'shared':
      hashOf(message.id).update(Buffer.from(message.shared, message.offset, message.length));
      break;
    case 'digest': {
      const digest = hashOf(message.id).digest();
      hashes.delete(message.id);
      parentPort.postMessage({ op: 'digest', id: message.id, digest });
      break;
    }
    case 'drop':
      hashes.delete(message.id);
      break;
  }
});
`;

interface Waiter {
  resolve(digest: Buffer): void;
  reject(error: Error): void;
}

/** One worker and its slots; replaced as a whole if the worker dies. */
class Generation {
  readonly worker: Worker;
  readonly shared: Buffer;
  readonly free: number[] = [];
  readonly waiters = new Map<number, Waiter>();
  dead: Error | undefined;

  constructor(
    readonly slotBytes: number,
    slots: number,
    onDeath: (generation: Generation) => void,
  ) {
    const shared = new SharedArrayBuffer(slotBytes * slots);
    this.shared = Buffer.from(shared);
    for (let slot = slots - 1; slot >= 0; slot--) this.free.push(slot);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { shared, slotBytes } });
    this.worker.unref();
    this.worker.on('message', (message: { op: 'free'; slot: number } | { op: 'digest'; id: number; digest: Uint8Array }) => {
      if (message.op === 'free') {
        this.free.push(message.slot);
        return;
      }
      const waiter = this.waiters.get(message.id);
      this.waiters.delete(message.id);
      waiter?.resolve(Buffer.from(message.digest.buffer, message.digest.byteOffset, message.digest.byteLength));
    });
    const die = (error: Error): void => {
      if (this.dead !== undefined) return;
      this.dead = error;
      for (const waiter of this.waiters.values()) waiter.reject(error);
      this.waiters.clear();
      onDeath(this);
    };
    this.worker.on('error', (error) => die(new Error(`the MD5 worker failed: ${error instanceof Error ? error.message : String(error)}`)));
    this.worker.on('exit', (code) => die(new Error(`the MD5 worker exited (code ${code})`)));
  }
}

/** What a session holds that must be given back if it is abandoned (no reference to the session). */
interface Held {
  readonly id: number;
  readonly generation: Generation;
  slot: number | undefined;
}

export class Md5Offload {
  readonly #slotBytes: number;
  readonly #slots: number;
  #generation: Generation | undefined;
  #nextId = 1;
  readonly #abandoned = new FinalizationRegistry<Held>((held) => {
    if (held.slot !== undefined) held.generation.free.push(held.slot);
    if (held.generation.dead === undefined) held.generation.worker.postMessage({ op: 'drop', id: held.id });
  });

  constructor(options: Md5OffloadOptions = {}) {
    this.#slotBytes = options.slotBytes ?? 1024 * 1024;
    this.#slots = options.slots ?? 16;
    if (!Number.isSafeInteger(this.#slotBytes) || this.#slotBytes < 1 || !Number.isSafeInteger(this.#slots) || this.#slots < 1) {
      throw new Error(`assertion failed: slotBytes ${this.#slotBytes}, slots ${this.#slots}`);
    }
  }

  /** A new MD5 (the first one, and the first after close, starts the worker). */
  session(): Md5Session {
    this.#generation ??= new Generation(this.#slotBytes, this.#slots, (dead) => {
      if (this.#generation === dead) this.#generation = undefined;
    });
    const held: Held = { id: this.#nextId++, generation: this.#generation, slot: undefined };
    const session = new OffloadedSession(held, this.#abandoned);
    this.#abandoned.register(session, held, session);
    return session;
  }

  /**
   * A buffer of `bytes` in shared memory, for a body that is read whole: `digestOf` hashes it in
   * place, so its bytes are copied once (into it) instead of twice.
   */
  sharedBuffer(bytes: number): SharedBytes {
    return Buffer.from(new SharedArrayBuffer(bytes)) as SharedBytes;
  }

  /** The MD5 of `bytes`, which must not change until this resolves. */
  digestOf(bytes: SharedBytes): Promise<Buffer> {
    const session = this.session() as OffloadedSession;
    return session.digestShared(bytes);
  }

  /** Slots not in use (tests: an abandoned session gives its slot back once collected). */
  get freeSlots(): number {
    return this.#generation?.free.length ?? this.#slots;
  }

  /** Stops the worker; digests still in flight reject. */
  async close(): Promise<void> {
    const generation = this.#generation;
    this.#generation = undefined;
    if (generation !== undefined) await generation.worker.terminate();
  }
}

class OffloadedSession implements Md5Session {
  #filled = 0;
  #done = false;

  constructor(
    private readonly held: Held,
    private readonly registry: FinalizationRegistry<Held>,
  ) {}

  update(data: Uint8Array): void {
    if (this.#done) throw new Error('assertion failed: update after digest');
    const { generation } = this.held;
    if (generation.dead !== undefined) return; // digest() rejects
    const { slotBytes } = generation;
    for (let offset = 0; offset < data.byteLength; ) {
      if (this.held.slot === undefined) {
        const slot = generation.free.pop();
        if (slot === undefined) {
          // Every slot is in flight: this piece goes over as a transferred copy.
          const bytes = Uint8Array.prototype.slice.call(data.subarray(offset));
          generation.worker.postMessage({ op: 'bytes', id: this.held.id, bytes }, [bytes.buffer]);
          return;
        }
        this.held.slot = slot;
        this.#filled = 0;
      }
      const take = Math.min(slotBytes - this.#filled, data.byteLength - offset);
      generation.shared.set(data.subarray(offset, offset + take), this.held.slot * slotBytes + this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === slotBytes) this.#post();
    }
  }

  digest(): Promise<Buffer> {
    if (this.#done) throw new Error('assertion failed: digest twice');
    this.#done = true;
    this.registry.unregister(this);
    const { generation, id } = this.held;
    if (generation.dead !== undefined) return Promise.reject(generation.dead);
    if (this.held.slot !== undefined && this.#filled > 0) this.#post();
    else if (this.held.slot !== undefined) generation.free.push(this.held.slot);
    this.held.slot = undefined;
    return new Promise<Buffer>((resolve, reject) => {
      generation.waiters.set(id, { resolve, reject });
      generation.worker.postMessage({ op: 'digest', id });
    });
  }

  /** Hashes `bytes` in place (shared memory), then digests: the whole MD5 of one buffer. */
  digestShared(bytes: SharedBytes): Promise<Buffer> {
    if (this.#filled > 0 || this.held.slot !== undefined) throw new Error('assertion failed: digestShared on a session already fed');
    const { generation, id } = this.held;
    if (generation.dead === undefined) generation.worker.postMessage({ op: 'shared', id, shared: bytes.buffer, offset: bytes.byteOffset, length: bytes.byteLength });
    return this.digest();
  }

  #post(): void {
    this.held.generation.worker.postMessage({ op: 'slot', id: this.held.id, slot: this.held.slot, length: this.#filled });
    this.held.slot = undefined;
    this.#filled = 0;
  }
}

/** The same interface on the calling thread (small bodies). */
export function inThread(): Md5Session {
  const hash = createHash('md5');
  return {
    update: (data) => void hash.update(data),
    digest: () => Promise.resolve(hash.digest()),
  };
}
