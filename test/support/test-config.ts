import { defaultConfig } from '../../src/config/config-schema.js';
import type { Config } from '../../src/config/config-schema.js';

/**
 * The write cache of a test instance: big enough that 1 MiB chunks go through it (segments of
 * 2 MiB), small enough that preallocating it costs each test instance a few milliseconds instead
 * of the production default's 2 GiB.
 */
export const TEST_WRITE_CACHE_BYTES = 16 * 1024 * 1024;

/** The server's defaults (`defaultConfig()`) with the test write cache. */
export function testConfig(): Config {
  return { ...defaultConfig(), writeCacheBytes: TEST_WRITE_CACHE_BYTES };
}
