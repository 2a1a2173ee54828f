/**
 * Node.js 22, Azure Functions' current GA runtime, for the test and the benchmarks that check
 * Strata on it while the machine's own Node (what CI runs everything else on) stays as it is.
 * Node's release binaries are published to the npm registry as `node-<platform>-<arch>` (what the
 * `node` package installs), the one registry these machines reach, so the first call fetches that
 * package with `npm pack` and unpacks it into `.strata/node22/`; later calls reuse it. It is not a
 * dependency in package.json: its `node` bin would shadow the machine's Node in every npm script.
 * STRATA_NODE22 names an executable to use instead.
 *
 *   node22()  -> { node: '/…/.strata/node22/22.23.5/bin/node', version: 'v22.23.5' } | { unavailable: 'why' }
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './repo-root';

/** Pinned, so a benchmark's figures name one runtime. */
export const NODE22_VERSION = '22.23.5';

export type Node22 = { node: string; version: string } | { unavailable: string };

export function node22(): Node22 {
  const given = process.env.STRATA_NODE22;
  if (given) return checked(given);
  const platform = { linux: 'linux', darwin: 'darwin' }[process.platform as string];
  if (!platform || !['x64', 'arm64'].includes(process.arch))
    return { unavailable: `no Node 22 package on the npm registry for ${process.platform}-${process.arch}` };
  const dir = path.join(repoRoot(), '.strata', 'node22', NODE22_VERSION);
  const node = path.join(dir, 'bin', 'node');
  if (!fs.existsSync(node)) {
    try {
      fetchInto(`node-${platform}-${process.arch}@${NODE22_VERSION}`, dir);
    } catch (e) {
      return { unavailable: `could not fetch Node ${NODE22_VERSION} from the npm registry: ${(e as Error).message}` };
    }
  }
  return checked(node);
}

/** `npm pack` the package into a fresh folder beside `dir`, unpack it and move it into place whole. */
function fetchInto(pkg: string, dir: string): void {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const work = fs.mkdtempSync(`${dir}.partial-`);
  try {
    const tgz = execFileSync('npm', ['pack', pkg, '--silent', '--pack-destination', work], {
      encoding: 'utf8',
      timeout: 300_000,
    }).trim();
    execFileSync('tar', ['xzf', path.join(work, tgz), '-C', work], { timeout: 120_000 });
    // Another process may have finished first: theirs is as good.
    if (!fs.existsSync(dir)) fs.renameSync(path.join(work, 'package'), dir);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function checked(node: string): Node22 {
  try {
    const version = execFileSync(node, ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim();
    if (!version.startsWith('v22.')) return { unavailable: `${node} is Node ${version}, not 22` };
    return { node, version };
  } catch (e) {
    return { unavailable: `${node} does not run: ${(e as Error).message}` };
  }
}
