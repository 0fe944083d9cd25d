/**
 * 500 concurrent authenticated who-am-i requests over HTTPS, with autocannon, against a real
 * Enclave server (serve() on a temporary data dir), and in the same run the same load against a
 * minimal fastify HTTPS server answering a constant JSON without authentication: a ceiling for
 * this machine, Node and TLS stack, not a peer product.
 *
 *   node --import tsx bench/api/whoami.ts
 *
 * BENCH_CONNECTIONS (500), BENCH_DURATION_SECONDS (15), BENCH_WORKERS (1: the load generator runs
 * in worker threads so it does not share the server's event loop; it still shares the CPUs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import autocannon, { type Result } from 'autocannon';
import { fastify } from 'fastify';
import { generate } from 'selfsigned';
import { defaultConfig } from '../../src/config/config-schema.js';
import { createLogger } from '../../src/ops/logger.js';
import { httpsOptions } from '../../src/protocols/rest/tls.js';
import { serve } from '../../src/serve.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 500);
const DURATION_SECONDS = Number(process.env.BENCH_DURATION_SECONDS ?? 15);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const ADMIN_PASSWORD = 'Bench-Correct-Horse-Battery-9';

function login(port: number): Promise<string> {
  const body = JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD });
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/v1/session/login', headers: { 'content-type': 'application/json' }, rejectUnauthorized: false },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (incoming.statusCode !== 200) reject(new Error(`login answered ${incoming.statusCode}: ${text}`));
          else resolve((JSON.parse(text) as { bearer_token: string }).bearer_token);
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

async function load(title: string, url: string, headers: Record<string, string>): Promise<Result> {
  // A short warm-up so JIT and TLS session set-up are not in the measurement.
  await autocannon({ url, connections: Math.min(CONNECTIONS, 50), duration: 2, headers, workers: WORKERS });
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_SECONDS, headers, workers: WORKERS, timeout: 30 });
  console.log(
    `${title}: ${result.requests.average.toFixed(0)} req/s average (total ${result.requests.total} in ${result.duration.toFixed(1)} s), ` +
      `latency p50 ${result.latency.p50} ms, p90 ${result.latency.p90} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms, ` +
      `2xx ${result['2xx']}, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`,
  );
  return result;
}

async function main(): Promise<void> {
  const cpu = cpus()[0];
  console.log(`machine: ${cpus().length} x ${cpu?.model ?? 'unknown'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}, ${process.platform} ${process.arch}`);
  console.log(`load: autocannon, ${CONNECTIONS} connections, ${DURATION_SECONDS} s, ${WORKERS} worker thread(s), HTTPS keep-alive, 127.0.0.1`);

  const dataDir = mkdtempSync(join(tmpdir(), 'enclave-bench-api-'));
  const server = await serve({
    config: { ...defaultConfig(), dataDir, apiPort: 0, logLevel: 'warn' },
    logger: createLogger({ level: 'warn' }),
    environment: { ENCLAVE_ADMIN_PASSWORD: ADMIN_PASSWORD },
    stdout: new Writable({ write: (_chunk, _encoding, callback) => callback() }),
  });
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  const ceiling = fastify({ https: httpsOptions({ certificate: pems.cert, privateKey: pems.private }) });
  ceiling.get('/v1/session/who-am-i', async () => ({ id: 'constant', name: 'admin', privileges: [] }));
  try {
    const port = server.ports.api as number;
    const token = await login(port);
    await load('enclave who-am-i (bearer session)', `https://127.0.0.1:${port}/v1/session/who-am-i`, { authorization: `Bearer ${token}` });
    await server.stop();
    await ceiling.listen({ host: '127.0.0.1', port: 0 });
    const ceilingPort = (ceiling.server.address() as AddressInfo).port;
    await load('ceiling: bare fastify HTTPS, constant JSON, no auth', `https://127.0.0.1:${ceilingPort}/v1/session/who-am-i`, {});
  } finally {
    await server.stop();
    await ceiling.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
