import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import type { NfsTestClient } from '../../src/protocols/nfs/testing/nfs-test-client.test-support.js';

/** PORTMAP v2 (RFC 1833 §3) for the NFS tests. */
export const PORTMAP = { program: 100000, version: 2 } as const;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** A port free right now on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** PMAPPROC_GETPORT (RFC 1833 §3.2): the port of a program version over a protocol, 0 if none. */
export async function getport(client: NfsTestClient, input: { program: number; version: number; protocol?: number }): Promise<number> {
  const reply = await client.call({ ...PORTMAP, procedure: 3, args: (writer) => writer.uint32(input.program).uint32(input.version).uint32(input.protocol ?? IPPROTO_TCP).uint32(0) });
  assert.equal(reply.status, 0);
  const port = reply.body.uint32();
  reply.body.end();
  return port;
}
