import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import { NfsTestClient } from '../testing/nfs-test-client.test-support.js';
import type { RpcProgram } from './rpc-program.js';
import { DEFAULT_RPC_LIMITS, RpcServer } from './rpc-server.js';

const PROGRAM = 400_001;

/** A program whose procedure 1 waits until its call's signal aborts, and says when it started. */
function waitingProgram(started: (signal: AbortSignal) => void): RpcProgram {
  const procedure = {
    name: 'WAIT',
    idempotent: true,
    prepare: () => async (call: { signal: AbortSignal }) => {
      started(call.signal);
      await new Promise<void>((resolve) => call.signal.addEventListener('abort', () => resolve(), { once: true }));
    },
  };
  return { number: PROGRAM, name: 'waiting', versions: new Map([[1, new Map([[1, procedure]])]]) };
}

describe('RPC server', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function serve(rpc: RpcServer): Promise<number> {
    const server = createServer((socket) => rpc.accept(socket));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  /** An RPC server of the waiting program, and a way to start a call on a new connection. */
  async function open(): Promise<{ rpc: RpcServer; callStarted: () => Promise<{ client: NfsTestClient; signal: AbortSignal }> }> {
    let onStart: (signal: AbortSignal) => void = () => undefined;
    const rpc = new RpcServer([waitingProgram((signal) => onStart(signal))], DEFAULT_RPC_LIMITS, pino({ level: 'silent' }));
    const port = await serve(rpc);
    const callStarted = async (): Promise<{ client: NfsTestClient; signal: AbortSignal }> => {
      const started = new Promise<AbortSignal>((resolve) => (onStart = resolve));
      const client = await NfsTestClient.open(port);
      void client.call({ program: PROGRAM, version: 1, procedure: 1 });
      return { client, signal: await started };
    };
    return { rpc, callStarted };
  }

  it('aborts the signal of a call in flight when the server closes, before close returns', async () => {
    const { rpc, callStarted } = await open();
    const { client, signal } = await callStarted();
    assert.equal(signal.aborted, false);
    rpc.close();
    assert.equal(signal.aborted, true);
    await client.closed;
    assert.equal(rpc.connectionCount, 0);
  });

  it('aborts the signal of a call in flight when its connection closes, and only that one', async () => {
    const { rpc, callStarted } = await open();
    const first = await callStarted();
    const second = await callStarted();
    first.client.close();
    await new Promise<void>((resolve) => first.signal.addEventListener('abort', () => resolve(), { once: true }));
    assert.equal(second.signal.aborted, false);
    rpc.close();
    assert.equal(second.signal.aborted, true);
  });
});
