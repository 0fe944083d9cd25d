import { Keyspace } from '../storage/metadata/keyspaces.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { key } from '../storage/metadata/tuple.js';

/**
 * The instance setting "every management user must use MFA" (the built-in admin included).
 * "Management user" means anyone who signs in to the management API with a password: file
 * protocols (S3 keys, NFS, SMB, FTP) do not take a second factor and are not affected.
 */
export interface MfaPolicy {
  isRequired(): Promise<boolean>;
  setRequired(value: boolean): Promise<void>;
}

/** Sub-tag of Keyspace.identity holding the one policy record (see mfa.ts for the MFA layout). */
export const MFA_POLICY_SUBTAG = 0x1b;

/**
 * MfaPolicy over the metadata store: one record, [identity, 0x1b] -> `{"required": bool}`; absent
 * means not required (a fresh instance). It lives here only because the instance settings store
 * was being written at the same time; the lead may move it there, and then this record is the
 * one value to migrate. Everything else depends on the interface, not on this class.
 */
export class MetadataMfaPolicy implements MfaPolicy {
  readonly #metadata: MetadataStore;

  constructor(options: { readonly metadata: MetadataStore }) {
    this.#metadata = options.metadata;
  }

  async isRequired(): Promise<boolean> {
    const value = await this.#metadata.read((tx) => tx.get(policyKey()));
    if (value === undefined) return false;
    const record = JSON.parse(new TextDecoder().decode(value)) as { required?: unknown };
    return record.required === true;
  }

  async setRequired(value: boolean): Promise<void> {
    await this.#metadata.write(async (tx) => {
      tx.put(policyKey(), new TextEncoder().encode(JSON.stringify({ required: value })));
    });
  }
}

function policyKey(): Uint8Array {
  return key().byte(Keyspace.identity).byte(MFA_POLICY_SUBTAG).build();
}
