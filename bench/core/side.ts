/**
 * What a benchmarked side offers the workloads. The workloads (workloads.ts) are written once
 * against this interface, so Enclave and the local file system run exactly the same sequence of
 * operations with the same names, sizes, offsets and concurrency.
 */
export interface BenchSide<Directory, File> {
  readonly name: 'enclave' | 'local';
  /** What "durable when acknowledged" means on this side, for the results table. */
  readonly describe: Readonly<Record<'create' | 'stat' | 'list' | 'sequential' | 'random', string>>;
  makeDirectory(name: string): Promise<Directory>;
  /** Creates an empty file exclusively; durable (entry and inode) when it resolves. */
  createEmpty(directory: Directory, name: string): Promise<void>;
  /** Looks the name up and returns its size in bytes. */
  stat(directory: Directory, name: string): Promise<number>;
  /** Lists the whole directory in pages of `pageEntries`, with attributes; returns the count. */
  list(directory: Directory, pageEntries: number): Promise<number>;
  createFile(name: string): Promise<File>;
  /** `sync: false` lets the local side defer durability to `flush`; Enclave is always durable. */
  write(file: File, offset: number, data: Uint8Array, options: { sync: boolean }): Promise<void>;
  flush(file: File): Promise<void>;
  read(file: File, offset: number, length: number): Promise<Uint8Array>;
  closeFile(file: File): Promise<void>;
  close(): Promise<void>;
}
