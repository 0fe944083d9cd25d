import { rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDirectory } from './durable-file.js';
import { readKeyringKekId, type Keyring } from './keyring.js';
import { LocalKeyFileProvider, type LocalKeyFileOptions } from './local-key-file.js';

/** Where a rotation stages the new KEK until the keyring has been rewrapped under it. */
export function nextKekFilePath(kekFile: string): string {
  return `${kekFile}.next`;
}

export interface LocalKekRotationOptions {
  /** The live KEK file (`kekFilePath(dataDir)`). */
  readonly file: string;
  /** The keyring in `keysDir`, opened with `provider`. */
  readonly keyring: Keyring;
  /** The provider that opened `file`; owned by this object from now on (close closes it). */
  readonly provider: LocalKeyFileProvider;
  /** The passphrase setting `file` was opened with; the new KEK file is sealed the same way. */
  readonly passphrase?: LocalKeyFileOptions['passphrase'];
  readonly scryptCostLog2?: number;
}

async function removeIfPresent(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/**
 * Rotation of a local-file KEK: a new KEK file is staged beside the live one, the keyring is
 * rewrapped under it (keyring.json replaced atomically; no chunk is touched), and only then is the
 * staged file renamed over the live one. A stop between the rewrap and the rename leaves a keyring
 * that names the staged KEK; completeLocalKekRotation, run before the keyring is opened, finishes
 * it. Rotations are serialised.
 */
export class LocalKekRotation {
  readonly #options: LocalKekRotationOptions;
  #provider: LocalKeyFileProvider;
  #pending: Promise<unknown> = Promise.resolve();

  constructor(options: LocalKekRotationOptions) {
    this.#options = options;
    this.#provider = options.provider;
  }

  get provider(): LocalKeyFileProvider {
    return this.#provider;
  }

  /** Returns the new KEK's id. On failure the old KEK stays in force and the staged file is removed. */
  rotate(): Promise<string> {
    const run = async () => {
      const { file, keyring } = this.#options;
      const next = nextKekFilePath(file);
      await removeIfPresent(next);
      const target = await LocalKeyFileProvider.open({
        file: next,
        create: true,
        ...(this.#options.passphrase === undefined ? {} : { passphrase: this.#options.passphrase }),
        ...(this.#options.scryptCostLog2 === undefined ? {} : { scryptCostLog2: this.#options.scryptCostLog2 }),
      });
      try {
        await keyring.rewrap(target);
      } catch (error) {
        await target.close();
        await removeIfPresent(next);
        throw error;
      }
      // From here the keyring needs the new KEK: the rename is finished by recovery if we stop now.
      await rename(next, file);
      await fsyncDirectory(dirname(file));
      const previous = this.#provider;
      this.#provider = target;
      await previous.close();
      return target.id;
    };
    const result = this.#pending.then(run, run);
    this.#pending = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    await this.#pending.catch(() => undefined);
    await this.#provider.close();
  }
}

/**
 * Finishes or discards a KEK rotation interrupted by a stop; run at start before the KEK file and
 * the keyring are opened. If the keyring already names the staged KEK, the staged file becomes
 * the live one; otherwise the rewrap never happened and the staged file is removed.
 */
export async function completeLocalKekRotation(options: { file: string; keysDir: string; passphrase?: LocalKeyFileOptions['passphrase'] }): Promise<'none' | 'completed' | 'discarded'> {
  const next = nextKekFilePath(options.file);
  let staged: LocalKeyFileProvider;
  try {
    staged = await LocalKeyFileProvider.open({ file: next, create: false, ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }) });
  } catch (error) {
    if ((error as { code?: string }).code === 'not-found') return 'none';
    throw error;
  }
  const stagedId = staged.id;
  await staged.close();
  if ((await readKeyringKekId(options.keysDir)) === stagedId) {
    await rename(next, options.file);
    await fsyncDirectory(dirname(options.file));
    return 'completed';
  }
  await unlink(next);
  return 'discarded';
}
