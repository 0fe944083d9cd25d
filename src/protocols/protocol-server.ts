/**
 * What every file-protocol front end (S3, NFS, SMB, FTP) gives the composition root: a server
 * that can listen and close, any number of times. serve.ts starts it when its settings say
 * `enabled` and stops it when they stop saying so, without a restart (protocol-switch.ts).
 */
export interface ProtocolServer {
  /** Starts accepting connections; resolves with the bound port (the one asked, or a free one for 0). */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, ends open connections within a bounded time, resolves once closed. */
  close(): Promise<void>;
}
