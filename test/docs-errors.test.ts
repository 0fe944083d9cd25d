import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { it } from 'node:test';
import { FS_ERROR_CODES } from '../src/core/errors.js';
import { FS_ERROR_STATUS } from '../src/protocols/rest/errors.js';

const errorsPage = join(resolve(import.meta.dirname, '..'), 'docs', 'errors.md');

it('docs/errors.md describes every core error code with its REST mapping', async () => {
  const text = await readFile(errorsPage, 'utf8');
  const rows = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\| `([A-Za-z]+)` \|(.*)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) rows.set(match[1], match[2]);
  }
  const missing = FS_ERROR_CODES.filter((code) => !rows.has(code));
  assert.deepEqual(missing, [], `docs/errors.md lacks a row for: ${missing.join(', ')}`);
  for (const code of FS_ERROR_CODES) {
    const { status, errorClass } = FS_ERROR_STATUS[code];
    assert.match(rows.get(code) ?? '', new RegExp(`${status} \`${errorClass}\``), `docs/errors.md gives the wrong REST mapping for ${code}`);
  }
  const unknown = [...rows.keys()].filter((code) => !(FS_ERROR_CODES as readonly string[]).includes(code));
  assert.deepEqual(unknown, [], `docs/errors.md lists codes that core does not have: ${unknown.join(', ')}`);
});
