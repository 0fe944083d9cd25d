import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { it } from 'node:test';
import { PRIVILEGES } from '../src/authz/privileges.js';

it('docs/privileges.md lists exactly the privilege catalogue', async () => {
  const text = await readFile(join(resolve(import.meta.dirname, '..'), 'docs', 'privileges.md'), 'utf8');
  const documented = [...text.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]);
  assert.deepEqual(documented.sort(), Object.keys(PRIVILEGES).sort());
});
