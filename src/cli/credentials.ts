import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, EXIT_FAILURE } from './cli-io.js';

/**
 * Session tokens from `enclave login`, one per API URL, in `credentials.json` under
 * `ENCLAVE_CONFIG_DIR` (default `~/.config/enclave`). The directory is 0700 and the file 0600,
 * written to a temporary name and renamed so a crash never leaves half a file.
 */

export interface StoredCredential {
  readonly bearer_token: string;
  readonly username: string;
  readonly expires_at?: string;
}

type CredentialsFile = Record<string, StoredCredential>;

export function configDirectory(environment: Readonly<Record<string, string | undefined>>): string {
  const fromEnvironment = environment.ENCLAVE_CONFIG_DIR;
  if (fromEnvironment !== undefined && fromEnvironment !== '') return fromEnvironment;
  const base = environment.XDG_CONFIG_HOME !== undefined && environment.XDG_CONFIG_HOME !== '' ? environment.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'enclave');
}

/** Credentials are keyed by origin: `https://host:port` (a trailing slash or path does not matter). */
export function credentialKey(apiUrl: URL): string {
  return apiUrl.origin;
}

export class CredentialStore {
  readonly file: string;

  constructor(private readonly directory: string) {
    this.file = join(directory, 'credentials.json');
  }

  private readAll(): CredentialsFile {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new CliError(`cannot read ${this.file}: ${(error as Error).message}`, EXIT_FAILURE);
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as CredentialsFile;
    } catch {
      // Reported below.
    }
    throw new CliError(`${this.file} is not a credentials file; delete it and log in again`, EXIT_FAILURE);
  }

  private writeAll(all: CredentialsFile): void {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    // The mode given to writeFileSync is masked by the umask and ignored for an existing file.
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.file);
  }

  get(key: string): StoredCredential | undefined {
    return this.readAll()[key];
  }

  set(key: string, credential: StoredCredential): void {
    this.writeAll({ ...this.readAll(), [key]: credential });
  }

  /** Forgets the credential for `key`; true when there was one. */
  delete(key: string): boolean {
    const all = this.readAll();
    if (all[key] === undefined) return false;
    delete all[key];
    this.writeAll(all);
    return true;
  }
}
