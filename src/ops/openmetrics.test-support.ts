import assert from 'node:assert/strict';

/**
 * The OpenMetrics line grammar, enough to catch malformed output: metadata lines, samples with
 * optional labels and a number, and the final `# EOF`.
 */
const METADATA_LINE = /^# (TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram)|UNIT [a-zA-Z_:][a-zA-Z0-9_:]* [a-z]+|HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*)$/;
const SAMPLE_LINE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? (-?[0-9.e+-]+|[+-]Inf|NaN)$/;

export function assertOpenMetrics(text: string): void {
  assert.ok(text.endsWith('# EOF\n'), 'ends with # EOF and a newline');
  const lines = text.slice(0, -1).split('\n');
  assert.equal(lines.filter((line) => line === '# EOF').length, 1);
  const declared = new Map<string, string>();
  for (const line of lines.slice(0, -1)) {
    if (line.startsWith('#')) {
      assert.match(line, METADATA_LINE);
      const [, keyword, name, type] = line.split(' ');
      if (keyword === 'TYPE') declared.set(name as string, type as string);
      continue;
    }
    assert.match(line, SAMPLE_LINE);
    const sampleName = line.split(/[{ ]/)[0] as string;
    const family = [...declared.keys()].find((name) => [name, `${name}_total`, `${name}_bucket`, `${name}_count`, `${name}_sum`].includes(sampleName));
    assert.ok(family !== undefined, `sample ${sampleName} follows its # TYPE line`);
  }
}
