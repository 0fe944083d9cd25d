import { ok, type Nfs3Procedure } from '../nfs3-procedure.js';

/** RFC 1813 §3.3.0: does nothing; clients ping with it. */
export const nullProcedure: Nfs3Procedure<undefined, undefined, undefined> = {
  number: 0,
  name: 'NULL',
  mutates: false,
  idempotent: true,
  decode: () => undefined,
  object: () => undefined,
  handle: async () => ok(undefined),
  encodeOk: () => undefined,
  encodeFail: () => undefined,
};
