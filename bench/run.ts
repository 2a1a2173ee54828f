/**
 * `npm run bench [-- name ...]`: run the named benchmarks (default: all) one after another,
 * each in its own process, printing each one's JSON. The benchmarks whose requests cross the
 * `@azure/functions` library run a second time on Node 22 (scripts/node22.ts), the runtime Azure
 * Functions runs the app on, where the library's undici and web-stream costs differ from the
 * machine's Node; each JSON names its Node version. BENCH_NODE22=0 leaves that out.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { node22 } from '../scripts/node22';

const dir = __dirname;
const ON_NODE22 = new Set(['host-overhead', 'online-lookup', 'predict']);
const all = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.js') && f !== 'run.js')
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}. Available: ${all.join(', ')}`);
  process.exit(2);
}
const chosen = wanted.length ? wanted : all;
const found = process.env.BENCH_NODE22 !== '0' && chosen.some((n) => ON_NODE22.has(n)) ? node22() : undefined;
if (found && 'unavailable' in found) console.error(`# Node 22 left out: ${found.unavailable}`);
const second = found && 'node' in found && found.node !== process.execPath ? found : undefined;
let failed = 0;
for (const name of chosen) {
  const runs = [{ node: process.execPath, label: '' }];
  if (second && ON_NODE22.has(name)) runs.push({ node: second.node, label: ` on Node ${second.version}` });
  for (const { node, label } of runs) {
    console.error(`# ${name}${label}`);
    const r = spawnSync(node, [path.join(dir, `${name}.js`)], { stdio: 'inherit' });
    if (r.status !== 0) failed++;
  }
}
process.exit(failed ? 1 : 0);
