/**
 * The MetadataStore conformance suite: every clause of the contract in metadata-store.ts, run
 * against every backend (`memory/`, `sqlite/`, later `postgres/`). A backend's test file calls
 * `metadataStoreContract` with a factory that opens a fresh, empty store.
 */
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  KEY_BYTES_MAX,
  MetadataStoreError,
  SCAN_LIMIT_MAX,
  VALUE_BYTES_MAX,
  type Entry,
  type MetadataStore,
  type ScanOptions,
} from './metadata-store.js';
import { compareKeys } from './tuple.js';

export interface OpenedStore {
  readonly store: MetadataStore;
  /** Closes the store if still open and removes whatever it left behind. */
  readonly cleanup: () => Promise<void>;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const hex = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : Buffer.from(value).toString('hex');
const hexEntries = (entries: Entry[]): Array<[string, string]> =>
  entries.map((entry) => [Buffer.from(entry.key).toString('hex'), Buffer.from(entry.value).toString('hex')]);
const everything: ScanOptions = { start: bytes(), end: new Uint8Array(KEY_BYTES_MAX + 1).fill(0xff), limit: SCAN_LIMIT_MAX };

export function metadataStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`MetadataStore contract: ${name}`, () => {
    const opened: OpenedStore[] = [];
    const fresh = async (): Promise<MetadataStore> => {
      const handle = await open();
      opened.push(handle);
      return handle.store;
    };
    afterEach(async () => {
      for (const handle of opened.splice(0)) await handle.cleanup();
    });

    describeBasics(fresh);
    describeScan(fresh);
    describeTransactions(fresh);
    describeBytes(fresh);
    describeLifecycleAndLimits(fresh);
    describeCommitReports(fresh);
    describeModel(open);
  });
}

type Fresh = () => Promise<MetadataStore>;

function describeCommitReports(fresh: Fresh): void {
  describe('commit reports (onCommitted, sequence)', () => {
    it('reports each commit\'s written keys with the next sequence, which later reads carry', async () => {
      const store = await fresh();
      assert.ok(store.onCommitted !== undefined, 'both backends report commits');
      const reports: Array<{ keys: string[]; sequence: number }> = [];
      const decode = (bytes: Uint8Array | undefined) => (bytes === undefined ? '-' : new TextDecoder().decode(bytes));
      const stop = store.onCommitted((keys, sequence, values) => {
        assert.equal(values.length, keys.length);
        // The last appearance of a key is what the commit left; `key=value`, '-' for deleted.
        const last = new Map(keys.map((key, index) => [decode(key), decode(values[index])]));
        reports.push({ keys: [...last].map(([key, value]) => `${key}=${value}`).sort(), sequence });
      });
      const before = await store.read(async (tx) => tx.sequence);
      assert.equal(typeof before, 'number');
      await store.write(async (tx) => {
        tx.put(text('a'), text('1'));
        tx.delete(text('b'));
        tx.put(text('c'), text('0'));
        tx.put(text('c'), text('2'));
        tx.put(text('d'), text('0'));
        tx.delete(text('d'));
      });
      await assert.rejects(store.write(async (tx) => {
        tx.put(text('never'), text('x'));
        throw new Error('refused');
      }));
      assert.deepEqual(reports, [{ keys: ['a=1', 'b=-', 'c=2', 'd=-'], sequence: (before as number) + 1 }], 'a failed transaction reports nothing');
      assert.equal(await store.read(async (tx) => tx.sequence), (before as number) + 1);
      assert.equal(await store.write(async (tx) => tx.sequence), undefined, 'write transactions carry none');
      stop();
      const reported = reports.length;
      await store.write(async (tx) => tx.put(text('e'), text('3')));
      assert.equal(reports.length, reported, 'stopped listening');
    });
  });
}

function describeBasics(fresh: Fresh): void {
  describe('get, put, delete', () => {
    it('get of a missing key answers undefined', async () => {
      const store = await fresh();
      assert.equal(await store.read((tx) => tx.get(text('missing'))), undefined);
    });

    it('a committed put is read back, overwritten, and deleted', async () => {
      const store = await fresh();
      await store.write(async (tx) => tx.put(text('a'), text('one')));
      assert.equal(hex(await store.read((tx) => tx.get(text('a')))), hex(text('one')));
      await store.write(async (tx) => tx.put(text('a'), text('two')));
      assert.equal(hex(await store.read((tx) => tx.get(text('a')))), hex(text('two')));
      await store.write(async (tx) => tx.delete(text('a')));
      assert.equal(await store.read((tx) => tx.get(text('a'))), undefined);
    });

    it('deleting a missing key is a no-op', async () => {
      const store = await fresh();
      await store.write(async (tx) => tx.delete(text('nothing')));
      assert.deepEqual(await store.read((tx) => tx.scan(everything)), []);
    });

    it('read and write resolve with the value their function returns', async () => {
      const store = await fresh();
      assert.equal(await store.write(async () => 42), 42);
      assert.equal(await store.read(async () => 'answer'), 'answer');
    });

    it('an empty value is stored and distinct from a missing key', async () => {
      const store = await fresh();
      await store.write(async (tx) => tx.put(text('empty'), bytes()));
      const value = await store.read((tx) => tx.get(text('empty')));
      assert.ok(value instanceof Uint8Array);
      assert.equal(value.length, 0);
    });

    it('keys and values that are views into larger buffers store exactly their own bytes', async () => {
      const store = await fresh();
      const backing = text('xxkeyyyvaluezz');
      const key = backing.subarray(2, 5);
      await store.write(async (tx) => tx.put(key, backing.subarray(7, 12)));
      assert.equal(hex(await store.read((tx) => tx.get(text('key')))), hex(text('value')));
      assert.deepEqual((await store.read((tx) => tx.scan({ start: key, end: text('kez'), limit: 10 }))).map((entry) => hex(entry.key)), [hex(text('key'))]);
      await store.write(async (tx) => tx.delete(backing.subarray(2, 5)));
      assert.equal(await store.read((tx) => tx.get(text('key'))), undefined);
    });
  });
}

function describeScan(fresh: Fresh): void {
  describe('scan', () => {
    const keys = ['a', 'b', 'c', 'd', 'e'].map(text);
    const filled = async (): Promise<MetadataStore> => {
      const store = await fresh();
      // Inserted out of order, so order comes from the store and not from insertion.
      await store.write(async (tx) => {
        for (const key of [...keys].reverse()) tx.put(key, key);
      });
      return store;
    };
    const scanKeys = async (store: MetadataStore, options: ScanOptions): Promise<string[]> =>
      (await store.read((tx) => tx.scan(options))).map((entry) => new TextDecoder().decode(entry.key));

    it('returns entries in key order with their values', async () => {
      const store = await filled();
      const entries = await store.read((tx) => tx.scan(everything));
      assert.deepEqual(hexEntries(entries), keys.map((key) => [hex(key), hex(key)]));
    });

    it('includes start and excludes end', async () => {
      const store = await filled();
      assert.deepEqual(await scanKeys(store, { start: text('b'), end: text('d'), limit: 10 }), ['b', 'c']);
    });

    it('returns at most limit entries, the first ones in order', async () => {
      const store = await filled();
      assert.deepEqual(await scanKeys(store, { start: text('a'), end: text('z'), limit: 2 }), ['a', 'b']);
    });

    it('reverse returns the last entries of the range in descending order', async () => {
      const store = await filled();
      const options = { start: text('b'), end: text('e'), limit: 2, reverse: true };
      assert.deepEqual(await scanKeys(store, options), ['d', 'c']);
    });

    it('an empty or inverted range, or a zero limit, returns nothing', async () => {
      const store = await filled();
      assert.deepEqual(await scanKeys(store, { start: text('c'), end: text('c'), limit: 10 }), []);
      assert.deepEqual(await scanKeys(store, { start: text('d'), end: text('b'), limit: 10 }), []);
      assert.deepEqual(await scanKeys(store, { start: text('a'), end: text('z'), limit: 0 }), []);
    });

    it('returns SCAN_LIMIT_MAX entries when more exist', async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        for (let index = 0; index <= SCAN_LIMIT_MAX; index++) tx.put(bytes(index >> 8, index & 0xff), bytes());
      });
      const entries = await store.read((tx) => tx.scan(everything));
      assert.equal(entries.length, SCAN_LIMIT_MAX);
      assert.equal(hex(entries.at(-1)?.key), hex(bytes((SCAN_LIMIT_MAX - 1) >> 8, (SCAN_LIMIT_MAX - 1) & 0xff)));
    });
  });
}

function describeTransactions(fresh: Fresh): void {
  describe('transactions', () => {
    it('a transaction that throws applies none of its changes and rejects with the same error', async () => {
      const store = await fresh();
      await store.write(async (tx) => tx.put(text('kept'), text('old')));
      const failure = new Error('abort');
      await assert.rejects(
        store.write(async (tx) => {
          tx.put(text('kept'), text('new'));
          tx.put(text('added'), text('x'));
          tx.delete(text('kept'));
          await tx.get(text('kept'));
          throw failure;
        }),
        (error) => error === failure,
      );
      const entries = await store.read((tx) => tx.scan(everything));
      assert.deepEqual(hexEntries(entries), [[hex(text('kept')), hex(text('old'))]]);
    });

    it('a failing transaction does not undo the concurrent transactions around it', async () => {
      const store = await fresh();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, index) =>
          store.write(async (tx) => {
            tx.put(bytes(index), bytes(index));
            await tx.get(bytes(index));
            if (index % 2 === 1) throw new Error(`odd ${index}`);
          }),
        ),
      );
      results.forEach((result, index) => assert.equal(result.status, index % 2 === 0 ? 'fulfilled' : 'rejected'));
      const entries = await store.read((tx) => tx.scan(everything));
      assert.deepEqual(entries.map((entry) => entry.key[0]), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    });

    it('rollback callbacks run for a failed transaction before the next one starts, never for a committed one', async () => {
      const store = await fresh();
      const events: string[] = [];
      const failed = store.write(async (tx) => {
        tx.onRollback(() => events.push('rolled back'));
        tx.put(text('x'), text('1'));
        throw new Error('abort');
      });
      const next = store.write(async (tx) => {
        events.push('next started');
        tx.onRollback(() => events.push('committed one rolled back'));
      });
      await assert.rejects(failed);
      await next;
      assert.deepEqual(events, ['rolled back', 'next started']);
    });

    it('reads inside a write transaction see its own puts and deletes, in get and scan', async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        for (const key of ['a', 'c', 'e']) tx.put(text(key), text('old'));
      });
      await store.write(async (tx) => {
        tx.put(text('b'), text('new'));
        tx.put(text('c'), text('new'));
        tx.delete(text('e'));
        tx.put(text('f'), text('new'));
        tx.delete(text('f'));
        assert.equal(hex(await tx.get(text('c'))), hex(text('new')));
        assert.equal(await tx.get(text('e')), undefined);
        assert.equal(await tx.get(text('f')), undefined);
        const forward = await tx.scan({ start: text('a'), end: text('z'), limit: 10 });
        assert.deepEqual(hexEntries(forward), [
          [hex(text('a')), hex(text('old'))],
          [hex(text('b')), hex(text('new'))],
          [hex(text('c')), hex(text('new'))],
        ]);
        const backward = await tx.scan({ start: text('a'), end: text('z'), limit: 2, reverse: true });
        assert.deepEqual(backward.map((entry) => hex(entry.key)), [hex(text('c')), hex(text('b'))]);
      });
    });

    it('a read transaction does not see an open write transaction\'s changes', async () => {
      const store = await fresh();
      await store.write(async (tx) => tx.put(text('k'), text('committed')));
      await store.write(async (tx) => {
        tx.put(text('k'), text('uncommitted'));
        tx.put(text('other'), text('uncommitted'));
        // Deliberately breaks the "await only the transaction" rule, to look at the store while
        // this write is open; backends must not deadlock on it.
        const seen = await store.read(async (reader) => [await reader.get(text('k')), await reader.get(text('other'))]);
        assert.deepEqual(seen.map(hex), [hex(text('committed')), undefined]);
      });
      assert.equal(hex(await store.read((tx) => tx.get(text('k')))), hex(text('uncommitted')));
    });

    it('a read transaction sees one snapshot even when a write commits while it waits', async () => {
      const store = await fresh();
      await store.write(async (tx) => tx.put(text('k'), text('v1')));
      let writing: Promise<void> | undefined;
      const seen = await store.read(async (tx) => {
        const before = await tx.get(text('k'));
        writing = store.write(async (writer) => {
          writer.put(text('k'), text('v2'));
          writer.put(text('new'), text('v2'));
        });
        // Gives the write every chance to commit (a backend may also hold it until this read ends).
        for (let turn = 0; turn < 5; turn++) await nextTurn();
        await new Promise((resolve) => setTimeout(resolve, 20));
        const after = await tx.get(text('k'));
        const scanned = await tx.scan(everything);
        return { before, after, scanned };
      });
      assert.equal(hex(seen.before), hex(text('v1')));
      assert.equal(hex(seen.after), hex(text('v1')));
      assert.deepEqual(hexEntries(seen.scanned), [[hex(text('k')), hex(text('v1'))]]);
      await writing;
      assert.equal(hex(await store.read((tx) => tx.get(text('k')))), hex(text('v2')));
    });

    it('100 concurrent read-modify-write increments of one counter give exactly 100', async () => {
      const store = await fresh();
      const counter = text('counter');
      const increment = (): Promise<void> =>
        store.write(async (tx) => {
          const current = await tx.get(counter);
          const value = current === undefined ? 0 : new DataView(current.buffer, current.byteOffset).getUint32(0);
          const next = new Uint8Array(4);
          new DataView(next.buffer).setUint32(0, value + 1);
          tx.put(counter, next);
        });
      await Promise.all(Array.from({ length: 100 }, increment));
      const stored = await store.read((tx) => tx.get(counter));
      assert.ok(stored !== undefined);
      assert.equal(new DataView(stored.buffer, stored.byteOffset).getUint32(0), 100);
    });

    it('a transaction object used after its function returned throws', async () => {
      const store = await fresh();
      const leakedWrite = await store.write(async (tx) => tx);
      assert.throws(() => leakedWrite.put(text('late'), text('x')), MetadataStoreError);
      await assert.rejects(async () => leakedWrite.get(text('late')), MetadataStoreError);
      const leakedRead = await store.read(async (tx) => tx);
      await assert.rejects(async () => leakedRead.scan(everything), MetadataStoreError);
      assert.deepEqual(await store.read((tx) => tx.scan(everything)), []);
    });
  });
}

function describeBytes(fresh: Fresh): void {
  describe('bytes', () => {
    it('binary keys, 0x00 and 0xff included, sort bytewise with a prefix before its extensions', async () => {
      const store = await fresh();
      const keys = [bytes(0xff, 0xff), bytes(0x00), bytes(), bytes(0xff), bytes(0x00, 0x00), bytes(0x01), bytes(0x00, 0xff), bytes(0x7f, 0x80)];
      await store.write(async (tx) => {
        for (const key of keys) tx.put(key, key);
      });
      const sorted = [...keys].sort(compareKeys).map(hex);
      assert.deepEqual(sorted, ['', '00', '0000', '00ff', '01', '7f80', 'ff', 'ffff']);
      const entries = await store.read((tx) => tx.scan(everything));
      assert.deepEqual(entries.map((entry) => hex(entry.key)), sorted);
      assert.deepEqual(entries.map((entry) => hex(entry.value)), sorted);
      for (const key of keys) assert.equal(hex(await store.read((tx) => tx.get(key))), hex(key));
      const high = await store.read((tx) => tx.scan({ start: bytes(0xff), end: bytes(0xff, 0xff, 0x00), limit: 10 }));
      assert.deepEqual(high.map((entry) => hex(entry.key)), ['ff', 'ffff']);
    });

    it('the store copies what it is given: the caller may reuse its buffers', async () => {
      const store = await fresh();
      const key = text('key');
      const value = text('value');
      await store.write(async (tx) => {
        tx.put(key, value);
        key.fill(0);
        value.fill(0);
      });
      key.set(text('key'));
      value.fill(1);
      assert.equal(hex(await store.read((tx) => tx.get(text('key')))), hex(text('value')));
    });

    it('returned arrays belong to the caller: changing them changes nothing stored', async () => {
      const store = await fresh();
      await store.write(async (tx) => tx.put(text('key'), text('value')));
      const first = await store.read((tx) => tx.get(text('key')));
      assert.ok(first instanceof Uint8Array);
      first.fill(0);
      const [entry] = await store.read((tx) => tx.scan(everything));
      assert.ok(entry !== undefined);
      entry.key.fill(0);
      entry.value.fill(0);
      await store.write(async (tx) => {
        const inside = await tx.get(text('key'));
        inside?.fill(0);
      });
      const again = await store.read((tx) => tx.scan(everything));
      assert.deepEqual(hexEntries(again), [[hex(text('key')), hex(text('value'))]]);
    });
  });
}

function describeLifecycleAndLimits(fresh: Fresh): void {
  describe('limits and lifecycle', () => {
    it('rejects keys, values and scan limits beyond the limits with RangeError', async () => {
      const store = await fresh();
      const tooLongKey = new Uint8Array(KEY_BYTES_MAX + 1);
      await assert.rejects(store.write(async (tx) => tx.put(tooLongKey, bytes())), RangeError);
      await assert.rejects(store.read((tx) => tx.get(tooLongKey)), RangeError);
      await assert.rejects(store.write(async (tx) => tx.delete(tooLongKey)), RangeError);
      const tooLargeValue = new Uint8Array(VALUE_BYTES_MAX + 1);
      await assert.rejects(store.write(async (tx) => tx.put(text('k'), tooLargeValue)), RangeError);
      for (const limit of [SCAN_LIMIT_MAX + 1, -1, 1.5, Number.NaN]) {
        await assert.rejects(store.read((tx) => tx.scan({ start: bytes(), end: bytes(1), limit })), RangeError);
      }
      assert.deepEqual(await store.read((tx) => tx.scan(everything)), []);
    });

    it('accepts a key of KEY_BYTES_MAX bytes and a value of VALUE_BYTES_MAX bytes', async () => {
      const store = await fresh();
      const key = new Uint8Array(KEY_BYTES_MAX).fill(0xab);
      const value = new Uint8Array(VALUE_BYTES_MAX).fill(0xcd);
      await store.write(async (tx) => tx.put(key, value));
      const stored = await store.read((tx) => tx.get(key));
      assert.equal(stored?.length, VALUE_BYTES_MAX);
      assert.equal(stored?.[VALUE_BYTES_MAX - 1], 0xcd);
    });

    it('rejects keys that are not byte arrays with TypeError', async () => {
      const store = await fresh();
      const notBytes = 'key' as unknown as Uint8Array;
      await assert.rejects(store.write(async (tx) => tx.put(notBytes, bytes())), TypeError);
      await assert.rejects(store.read((tx) => tx.get(notBytes)), TypeError);
    });

    it('close waits for in-flight transactions, and later calls reject with MetadataStoreError', async () => {
      const store = await fresh();
      let committed = false;
      const writing = store.write(async (tx) => tx.put(text('k'), text('v'))).then(() => (committed = true));
      await store.close();
      assert.equal(committed, true);
      await writing;
      await assert.rejects(store.read((tx) => tx.get(text('k'))), MetadataStoreError);
      await assert.rejects(store.write(async (tx) => tx.put(text('k'), text('v'))), MetadataStoreError);
    });
  });
}

/** One operation of a random transaction; keys come from a tiny alphabet so they collide often. */
type ModelOperation =
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly key: Uint8Array }
  | { readonly kind: 'get'; readonly key: Uint8Array }
  | { readonly kind: 'scan'; readonly start: Uint8Array; readonly end: Uint8Array; readonly limit: number; readonly reverse: boolean };

const modelKey = fc.uint8Array({ minLength: 0, maxLength: 3 }).map((raw) => raw.map((byte) => [0x00, 0x01, 0x7f, 0xff][byte % 4] as number));
const modelOperation: fc.Arbitrary<ModelOperation> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key: modelKey, value: fc.uint8Array({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), key: modelKey }),
  fc.record({ kind: fc.constant('get' as const), key: modelKey }),
  fc.record({ kind: fc.constant('scan' as const), start: modelKey, end: modelKey, limit: fc.integer({ min: 0, max: 6 }), reverse: fc.boolean() }),
);
const modelTransaction = fc.record({ operations: fc.array(modelOperation, { maxLength: 8 }), fails: fc.boolean() });

/** The reference: a Map by hex key; a scan sorts it. */
function modelScan(model: Map<string, Uint8Array>, operation: Extract<ModelOperation, { kind: 'scan' }>): Array<[string, string]> {
  const inRange = [...model.entries()]
    .map(([key, value]) => ({ key: Buffer.from(key, 'hex'), value }))
    .filter((entry) => compareKeys(entry.key, operation.start) >= 0 && compareKeys(entry.key, operation.end) < 0)
    .sort((left, right) => compareKeys(left.key, right.key));
  if (operation.reverse) inRange.reverse();
  return hexEntries(inRange.slice(0, operation.limit));
}

function describeModel(open: () => Promise<OpenedStore>): void {
  describe('model', () => {
    it('random transactions agree with a sorted-map reference model', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(modelTransaction, { minLength: 1, maxLength: 12 }), async (transactions) => {
          const { store, cleanup } = await open();
          try {
            let committed = new Map<string, Uint8Array>();
            for (const transaction of transactions) {
              const working = new Map(committed);
              const outcome = store.write(async (tx) => {
                for (const operation of transaction.operations) {
                  if (operation.kind === 'put') {
                    tx.put(operation.key, operation.value);
                    working.set(hex(operation.key) as string, operation.value);
                  } else if (operation.kind === 'delete') {
                    tx.delete(operation.key);
                    working.delete(hex(operation.key) as string);
                  } else if (operation.kind === 'get') {
                    assert.equal(hex(await tx.get(operation.key)), hex(working.get(hex(operation.key) as string)));
                  } else {
                    assert.deepEqual(hexEntries(await tx.scan(operation)), modelScan(working, operation));
                  }
                }
                if (transaction.fails) throw new Error('planned failure');
              });
              if (transaction.fails) await assert.rejects(outcome, /planned failure/);
              else {
                await outcome;
                committed = working;
              }
              const all = { kind: 'scan' as const, start: bytes(), end: bytes(0xff, 0xff, 0xff, 0xff), limit: SCAN_LIMIT_MAX, reverse: false };
              assert.deepEqual(hexEntries(await store.read((tx) => tx.scan(all))), modelScan(committed, all));
            }
          } finally {
            await cleanup();
          }
        }),
        { numRuns: 60 },
      );
    });
  });
}
