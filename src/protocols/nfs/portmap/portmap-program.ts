import type { RpcProcedure, RpcProgram } from '../rpc/rpc-program.js';
import type { XdrReader } from '../xdr/xdr-reader.js';

/** RFC 1833 §3: PORTMAP version 2 (program 100000). */
export const PORTMAP_PROGRAM = 100000;
export const PORTMAP_V2 = 2;
export const IPPROTO_TCP = 6;

export interface ServedProgram {
  readonly program: number;
  readonly version: number;
}

/**
 * Answers GETPORT and DUMP for the programs this server itself serves, all on the NFS port over
 * TCP; SET and UNSET refuse (this is not a general portmapper: nothing else may register). UDP
 * mappings answer port 0 (not served). `port()` is read at call time: the NFS listener's port.
 */
export function portmapProgram(served: readonly ServedProgram[], port: () => number): RpcProgram {
  const readMapping = (reader: XdrReader) => ({ program: reader.uint32('prog'), version: reader.uint32('vers'), protocol: reader.uint32('prot'), port: reader.uint32('port') });
  const table: Array<[number, RpcProcedure]> = [
    [0, { name: 'NULL', idempotent: true, prepare: (reader) => (reader.end(), async () => undefined) }],
    [1, { name: 'SET', idempotent: true, prepare: (reader) => (readMapping(reader), reader.end(), async (_call, results) => void results.bool(false)) }],
    [2, { name: 'UNSET', idempotent: true, prepare: (reader) => (readMapping(reader), reader.end(), async (_call, results) => void results.bool(false)) }],
    [
      3,
      {
        name: 'GETPORT',
        idempotent: true,
        prepare: (reader) => {
          const wanted = readMapping(reader);
          reader.end();
          return async (_call, results) => {
            const known = wanted.protocol === IPPROTO_TCP && served.some((entry) => entry.program === wanted.program && entry.version === wanted.version);
            results.uint32(known ? port() : 0);
          };
        },
      },
    ],
    [
      4,
      {
        name: 'DUMP',
        idempotent: true,
        prepare: (reader) => {
          reader.end();
          return async (_call, results) => {
            for (const entry of served) results.bool(true).uint32(entry.program).uint32(entry.version).uint32(IPPROTO_TCP).uint32(port());
            results.bool(false);
          };
        },
      },
    ],
  ];
  return { number: PORTMAP_PROGRAM, name: 'portmap', versions: new Map([[PORTMAP_V2, new Map(table)]]) };
}
