import { Writable } from 'node:stream';
import type { Config } from '../../src/config/config-schema.js';
import { createLogger } from '../../src/ops/logger.js';
import { serve, type Server } from '../../src/serve.js';
import { callApi } from './api-client.js';
import { testConfig } from './test-config.js';

/**
 * `enclave serve` in-process on a test data dir with every port picked by the system (0), its
 * stdout lines collected into `lines` (`listening <service> <address>`), and the admin logged in.
 */
export async function serveForTest(options: { dataDir: string; adminPassword: string; lines: string[]; config?: Partial<Config> }): Promise<{ server: Server; token: string }> {
  const server = await serve({
    config: { ...testConfig(), dataDir: options.dataDir, apiPort: 0, s3Port: 0, nfsPort: 0, ...options.config },
    logger: createLogger({ level: 'silent' }),
    environment: { ENCLAVE_ADMIN_PASSWORD: options.adminPassword },
    stdout: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        options.lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
        callback();
      },
    }),
  });
  const login = await callApi(server.ports.api as number, 'POST', '/v1/session/login', { body: { username: 'admin', password: options.adminPassword } });
  return { server, token: login.json().bearer_token };
}
