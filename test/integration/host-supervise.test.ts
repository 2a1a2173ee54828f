/**
 * `start --restart` (local/cli/supervise.ts) with real child processes: a host that dies of a
 * crash signal is started again; a refused start or a clean exit ends the supervisor with the
 * host's exit code, and nothing is restarted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { superviseHost } from '../../local/cli/supervise';
import { tempDir } from '../helpers/temp';

const tmp = tempDir('supervise-');
afterAll(() => tmp.cleanup());

/** A stand-in host: counts its starts in `runs`, then does what `plan` says for that start. */
function standIn(name: string, plan: string[]): { script: string; runs: string } {
  const runs = path.join(tmp.dir, `${name}.runs`);
  const script = path.join(tmp.dir, `${name}.js`);
  fs.writeFileSync(
    script,
    `const fs = require('fs');
fs.appendFileSync(${JSON.stringify(runs)}, 'x');
const n = fs.readFileSync(${JSON.stringify(runs)}, 'utf8').length;
const step = ${JSON.stringify(plan)}[n - 1];
if (step.startsWith('SIG')) process.kill(process.pid, step); else process.exit(Number(step));
`,
  );
  return { script, runs };
}

it('starts the host again after SIGKILL and SIGABRT, and ends with its exit code when it exits', async () => {
  const host = standIn('crashes', ['SIGKILL', 'SIGABRT', '0']);
  const lines: string[] = [];
  expect(await superviseHost(host.script, [], (l) => lines.push(l))).toBe(0);
  expect(fs.readFileSync(host.runs, 'utf8')).toBe('xxx');
  expect(lines).toEqual([
    '[supervisor] the host died (SIGKILL); starting it again in 1 s',
    '[supervisor] the host died (SIGABRT); starting it again in 1 s',
  ]);
}, 30_000);

it('does not restart a refused start (exit code 1), nor a host stopped by SIGTERM', async () => {
  const refused = standIn('refused', ['1', '0']);
  expect(await superviseHost(refused.script, [], () => undefined)).toBe(1);
  expect(fs.readFileSync(refused.runs, 'utf8')).toBe('x');
  const terminated = standIn('terminated', ['SIGTERM', '0']);
  expect(await superviseHost(terminated.script, [], () => undefined)).toBe(1);
  expect(fs.readFileSync(terminated.runs, 'utf8')).toBe('x');
}, 30_000);
