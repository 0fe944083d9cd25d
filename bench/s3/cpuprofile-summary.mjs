#!/usr/bin/env node
// Summarise a V8 .cpuprofile (node --cpu-prof, or enclave-s3.ts's BENCH_S3_PROFILE_DIR phases):
// wall time split into idle / GC / program / JS; top functions by self time and by inclusive time
// (each function counted once per sample, so recursion does not inflate it); self time by file
// (src/ paths, node_modules packages, node: internals).
// Usage: node bench/s3/cpuprofile-summary.mjs FILE.cpuprofile [--top 25] [--json]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } } });
const top = Number(opt.top);
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const shortUrl = (url) => {
  if (!url) return '';
  const i = url.indexOf('/src/');
  if (i >= 0 && !url.includes('node_modules')) return url.slice(i + 1);
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  return url.replace(/^file:\/\//, '');
};
const fileGroup = (url) => {
  if (!url) return '(native/vm)';
  if (url.startsWith('node:')) return url;
  const s = shortUrl(url);
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) { const parts = s.split('/'); return 'pkg:' + (parts[0].startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]); }
  return s;
};
const fnKey = (n) => {
  const f = n.callFrame;
  const name = f.functionName || (f.url ? '(anonymous)' : '');
  return f.url ? `${name} ${shortUrl(f.url)}:${f.lineNumber + 1}` : name || '(root)';
};

const samples = profile.samples, deltas = profile.timeDeltas;
const totalUs = profile.endTime - profile.startTime;
const self = new Map(), incl = new Map(), byFile = new Map(), special = new Map();
let sampledUs = 0;
for (let i = 0; i < samples.length; i++) {
  // V8 records the delta before each sample; the time until the next sample is this sample's.
  const dt = i + 1 < deltas.length ? deltas[i + 1] : 0;
  if (dt <= 0) continue;
  sampledUs += dt;
  const leaf = nodes.get(samples[i]);
  const leafName = leaf.callFrame.functionName;
  if (['(idle)', '(program)', '(garbage collector)', '(root)'].includes(leafName)) special.set(leafName, (special.get(leafName) ?? 0) + dt);
  const k = fnKey(leaf);
  self.set(k, (self.get(k) ?? 0) + dt);
  if (!special.has(leafName) || !['(idle)', '(program)', '(garbage collector)', '(root)'].includes(leafName)) {
    const g = fileGroup(leaf.callFrame.url);
    byFile.set(g, (byFile.get(g) ?? 0) + dt);
  }
  const seen = new Set();
  for (let id = samples[i]; id !== undefined; id = parent.get(id)) {
    const key = fnKey(nodes.get(id));
    if (seen.has(key)) continue;
    seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + dt);
  }
}
const idle = special.get('(idle)') ?? 0;
const busy = sampledUs - idle;
const pct = (us, of) => ((100 * us) / of).toFixed(1);
const rank = (m, skip) => [...m].filter(([k]) => !skip?.(k)).sort((a, b) => b[1] - a[1]).slice(0, top);
const notMeta = (k) => ['(root)', '(idle)', '(program)', '(garbage collector)'].includes(k);
if (opt.json) {
  console.log(JSON.stringify({ totalMs: totalUs / 1000, idleMs: idle / 1000, busyMs: busy / 1000, special: Object.fromEntries([...special].map(([k, v]) => [k, v / 1000])), self: rank(self), inclusive: rank(incl), byFile: rank(byFile) }));
} else {
  console.log(`profile ${positionals[0]}: ${(totalUs / 1000).toFixed(0)} ms wall, sampled ${(sampledUs / 1000).toFixed(0)} ms, ${samples.length} samples`);
  console.log(`  idle ${pct(idle, sampledUs)}%  busy ${pct(busy, sampledUs)}%  (of busy: GC ${pct(special.get('(garbage collector)') ?? 0, busy)}%, (program) ${pct(special.get('(program)') ?? 0, busy)}%)`);
  console.log(`-- top self time (% of busy)`);
  for (const [k, v] of rank(self, notMeta)) console.log(`  ${pct(v, busy).padStart(5)}%  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  console.log(`-- top inclusive time (% of busy)`);
  for (const [k, v] of rank(incl, notMeta)) console.log(`  ${pct(v, busy).padStart(5)}%  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  console.log(`-- self time by file/package (% of busy)`);
  for (const [k, v] of rank(byFile)) console.log(`  ${pct(v, busy).padStart(5)}%  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
}
