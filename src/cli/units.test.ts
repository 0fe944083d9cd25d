import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError, EXIT_USAGE } from './cli-io.js';
import { renderTable } from './output.js';
import { formatBytes, parseByteSize } from './units.js';

describe('CLI sizes and tables', () => {
  it('reads sizes in bytes, SI units (powers of 1000) and binary units (powers of 1024)', () => {
    assert.equal(parseByteSize('1048576'), 1_048_576);
    assert.equal(parseByteSize('10G'), 10_000_000_000);
    assert.equal(parseByteSize('10GB'), 10_000_000_000);
    assert.equal(parseByteSize('500MiB'), 500 * 1024 ** 2);
    assert.equal(parseByteSize('1.5KiB'), 1536);
    assert.equal(parseByteSize('2t'), 2_000_000_000_000);
  });

  it('refuses a size it cannot read, or one that is not whole bytes, as a usage error', () => {
    for (const text of ['12XB', '', 'iB', '-1G', '0.1', '1e3', '99999999P']) {
      assert.throws(() => parseByteSize(text), (error: unknown) => error instanceof CliError && error.exitCode === EXIT_USAGE, text);
    }
  });

  it('prints sizes in binary units', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(5 * 1024 ** 2), '5.0 MiB');
  });

  it('pads table columns to their widest cell and shows missing values as -', () => {
    const text = renderTable([{ name: 'admin', uid: 1000 }, { name: 'bo', uid: undefined }], [
      { header: 'NAME', value: (row) => row.name },
      { header: 'UID', value: (row) => row.uid },
    ]);
    assert.equal(text, 'NAME   UID\nadmin  1000\nbo     -');
  });
});
