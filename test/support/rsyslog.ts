import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

/**
 * rsyslog from Debian as a test receiver, started on loopback with a generated configuration that
 * writes every message's raw text (%rawmsg%) to a file. Inputs: imtcp (plain, or gtls from
 * rsyslog-gnutls, optionally requiring a client certificate), imudp, imrelp (rsyslog-relp). The
 * main queue is Direct, so a message is in the file before imrelp acknowledges it.
 */
export const RSYSLOGD = '/usr/sbin/rsyslogd';
export const installed = (packageName: string): boolean => spawnSync('dpkg', ['-s', packageName], { stdio: 'ignore' }).status === 0;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/** UDP has no connection to try: look for the bound port in /proc/net/udp. */
const boundUdp = async (port: number): Promise<boolean> => (await readFile('/proc/net/udp', 'utf8')).includes(`:${port.toString(16).toUpperCase().padStart(4, '0')} `);

export interface Receiver {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  lines(): Promise<string[]>;
}

export interface ReceiverOptions {
  readonly input: 'tcp' | 'tls' | 'udp' | 'relp';
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string; readonly requireClientCertificate?: boolean };
}

export async function rsyslog(dir: string, options: ReceiverOptions): Promise<Receiver> {
  const port = await freePort();
  const output = join(dir, 'received.log');
  const config = join(dir, 'rsyslog.conf');
  const tls = options.tls;
  const global = tls === undefined ? `global(workDirectory="${dir}")` : `global(workDirectory="${dir}" DefaultNetstreamDriverCAFile="${tls.caFile}" DefaultNetstreamDriverCertFile="${tls.certFile}" DefaultNetstreamDriverKeyFile="${tls.keyFile}")`;
  const input = {
    tcp: ['module(load="imtcp")', `input(type="imtcp" port="${port}" address="127.0.0.1" ruleset="audit")`],
    tls: [`module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="${tls?.requireClientCertificate === true ? 'x509/certvalid' : 'anon'}")`, `input(type="imtcp" port="${port}" address="127.0.0.1" ruleset="audit")`],
    udp: ['module(load="imudp")', `input(type="imudp" port="${port}" address="127.0.0.1" ruleset="audit")`],
    relp: ['module(load="imrelp")', `input(type="imrelp" port="${port}" address="127.0.0.1" ruleset="audit")`],
  }[options.input];
  await writeFile(config, [global, 'main_queue(queue.type="Direct")', ...input, 'template(name="raw" type="string" string="%rawmsg%\\n")', `ruleset(name="audit") { action(type="omfile" file="${output}" template="raw") }`, ''].join('\n'));
  let child: ChildProcess | undefined;
  return {
    port,
    start: async () => {
      child = spawn(RSYSLOGD, ['-n', '-f', config, '-i', join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
      await waitFor(() => (options.input === 'udp' ? boundUdp(port) : accepts(port)), 10_000, 'rsyslog to listen');
    },
    stop: async () => {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await exited;
    },
    lines: async () => (existsSync(output) ? (await readFile(output, 'utf8')).split('\n').filter((line) => line !== '') : []),
  };
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate it signs, and an unrelated CA, made with openssl. */
export function certificates(dir: string) {
  const run = (args: string[]): void => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${result.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=enclave test CA', '-days', '2']);
  run(['req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-subj', '/CN=other CA', '-days', '2']);
  run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  spawnSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\n" > san.ext; printf "extendedKeyUsage=clientAuth\\n" > client.ext'], { cwd: dir });
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext']);
  run(['req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=enclave-audit-client']);
  run(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2', '-extfile', 'client.ext']);
  const read = (name: string): string => spawnSync('cat', [join(dir, name)], { encoding: 'utf8' }).stdout;
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), ca: read('ca.crt'), otherCa: read('other-ca.crt'), clientCertificate: read('client.crt'), clientKey: read('client.key') };
}
