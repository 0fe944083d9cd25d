import { readFileSync } from 'node:fs';

/**
 * The package's name and version, read from package.json (one level above both src/ and dist/).
 * `revision` is the source revision when the build recorded one in ENCLAVE_REVISION.
 */
export function readVersion(environment: Readonly<Record<string, string | undefined>> = {}): { name: 'enclave'; version: string; revision?: string } {
  const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const revision = environment.ENCLAVE_REVISION;
  return { name: 'enclave', version: packageJson.version, ...(revision ? { revision } : {}) };
}
