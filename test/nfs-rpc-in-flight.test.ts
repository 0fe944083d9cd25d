import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import type { RpcProgram } from '../src/protocols/nfs/rpc/rpc-program.js';
import { DEFAULT_RPC_LIMITS, RpcServer } from '../src/protocols/nfs/rpc/rpc-server.js';
import { NfsTestClient } from '../src/protocols/nfs/testing/nfs-test-client.test-support.js';

const PROGRAM = 400_002;
const IN_FLIGHT_MAX = 4;

/**
 * A program whose one procedure holds each call until the test releases it, counting how many run
 * at once. Its argument is any opaque (the tests send big ones to fill the socket buffers) and its
 * result the number the call carried.
 */
function heldProgram() {
  const held: Array<() => void> = [];
  const state = { started: 0, running: 0, runningMost: 0, held };
  const procedure = {
    name: 'HOLD',
    idempotent: true,
    prepare: (reader: { uint32(): number; opaque(max: number): Uint8Array }) => {
      const sequence = reader.uint32();
      reader.opaque(1024 * 1024);
      return async (_call: unknown, results: { uint32(value: number): unknown }) => {
        state.started += 1;
        state.running += 1;
        state.runningMost = Math.max(state.runningMost, state.running);
        await new Promise<void>((resolve) => held.push(resolve));
        state.running -= 1;
        results.uint32(sequence);
      };
    },
  };
  const program = { number: PROGRAM, name: 'held', versions: new Map([[1, new Map([[1, procedure]])]]) } as unknown as RpcProgram;
  return { program, state };
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RPC server: bounded in-flight calls per connection (inFlightMax)', () => {
  const servers: Server[] = [];
  const rpcs: RpcServer[] = [];
  afterEach(async () => {
    for (const rpc of rpcs.splice(0)) rpc.close();
    for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function open(): Promise<{ client: NfsTestClient; state: ReturnType<typeof heldProgram>['state'] }> {
    const { program, state } = heldProgram();
    const rpc = new RpcServer([program], { ...DEFAULT_RPC_LIMITS, inFlightMax: IN_FLIGHT_MAX }, pino({ level: 'silent' }));
    rpcs.push(rpc);
    const server = createServer((socket) => rpc.accept(socket));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { client: await NfsTestClient.open((server.address() as AddressInfo).port), state };
  }

  /** Releases held calls one at a time, oldest first, until `count` have started and finished. */
  async function releaseAll(state: ReturnType<typeof heldProgram>['state'], count: number): Promise<void> {
    while (state.started < count || state.held.length > 0) {
      const release = state.held.shift();
      if (release === undefined) await settle(1);
      else release();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  it('at inFlightMax calls the server stops reading: later calls wait in the client\'s socket, not in server memory; all are answered, in order', async () => {
    const { client, state } = await open();
    // 300 calls of 60 KiB (18 MiB): more than loopback's socket buffers hold, so the client's
    // writes back up once the server stops reading.
    const callsCount = 300;
    const payload = new Uint8Array(60 * 1024);
    const order: number[] = [];
    const replies = Array.from({ length: callsCount }, (_, sequence) =>
      client.call({ program: PROGRAM, version: 1, procedure: 1, args: (writer) => writer.uint32(sequence).opaque(payload) }).then((reply) => {
        assert.equal(reply.status, 0);
        order.push(reply.body.uint32());
      }),
    );
    await settle(300);
    assert.equal(state.started, IN_FLIGHT_MAX, 'exactly inFlightMax calls started');
    const backlog = (client as unknown as { socket: { writableLength: number } }).socket.writableLength;
    assert.ok(backlog > 4 * 1024 * 1024, `the server stopped reading: ${backlog} bytes wait in the client`);
    await releaseAll(state, callsCount);
    await Promise.all(replies);
    assert.ok(state.runningMost <= IN_FLIGHT_MAX, `${state.runningMost} calls ran at once`);
    assert.deepEqual(order, Array.from({ length: callsCount }, (_, sequence) => sequence));
    client.close();
  });

  it(
    'never runs more than inFlightMax calls, even when one read carries many small calls',
    async () => {
      const { client, state } = await open();
      const callsCount = 200;
      const replies = Array.from({ length: callsCount }, (_, sequence) => client.call({ program: PROGRAM, version: 1, procedure: 1, args: (writer) => writer.uint32(sequence).opaque(new Uint8Array(0)) }));
      await settle(300);
      const runningMost = state.runningMost;
      await releaseAll(state, callsCount);
      await Promise.all(replies);
      client.close();
      assert.ok(runningMost <= IN_FLIGHT_MAX, `${runningMost} calls ran at once; inFlightMax is ${IN_FLIGHT_MAX}`);
    },
  );
});
