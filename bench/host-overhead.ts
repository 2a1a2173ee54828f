/**
 * Host overhead: a trivial HTTP function through the local host vs a bare node:http server
 * doing the same work, each in its own process, loaded by wrk (bench/lib/wrk.ts). A third
 * server, the "library floor", hands requests straight to @azure/functions' own invocation
 * model: what any Functions-compatible host must pay before doing anything itself, so the host's
 * own cost is host vs library floor. The three alternate (bare floor host, host bare floor, ...)
 * for BENCH_ROUNDS rounds; medians and min-max are printed with the load average and Node version.
 * Targets (issue 19): host >= 0.95x the library floor's requests/s, p99 <= 1.2x.
 *   node dist/bench/host-overhead.js   (BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_ROUNDS)
 */
import { spawnLocalHost } from './lib/local-host';
import { spawn } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { ensureWrk, wrk, type WrkResult } from './lib/wrk';
import { machine, spread, target } from './lib/ab';
import { freePort, waitForPort } from '../local/processes/ports';
import { startAzurite } from '../local/processes/azurite';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

async function main() {
  ensureWrk();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-host-'));
  const azurite = await startAzurite({ location: path.join(tmp, 'azurite') });
  const barePort = await freePort();
  const bare = spawn(process.execPath, [path.join(__dirname, 'fixtures/bare-ping-server.js'), String(barePort)], {
    stdio: 'ignore',
  });
  const floorPort = await freePort();
  const floor = spawn(process.execPath, [path.join(__dirname, 'fixtures/library-floor-server.js'), String(floorPort)], {
    stdio: 'ignore',
  });
  const hostPort = await freePort();
  const host = spawnLocalHost({
    entry: path.join(__dirname, 'fixtures/ping-app.js'),
    port: hostPort,
    dataDir: path.join(tmp, 'data'),
    env: { ...process.env, AzureWebJobsStorage: azurite.connectionString, STRATA_LOG_LEVEL: 'warn' },
  });
  try {
    await waitForPort(barePort);
    await waitForPort(hostPort);
    await waitForPort(floorPort);
    // The host answers 503 until every trigger has started.
    for (let i = 0; i < 100 && (await fetch(`http://127.0.0.1:${hostPort}/api/ping`)).status !== 200; i++)
      await new Promise((r) => setTimeout(r, 100));
    const servers = { bare: barePort, libraryFloor: floorPort, host: hostPort } as const;
    type Name = keyof typeof servers;
    const names = Object.keys(servers) as Name[];
    const run = (n: Name, s = seconds) =>
      wrk({ url: `http://127.0.0.1:${servers[n]}/api/ping?n=1`, concurrency, seconds: s });
    for (const n of names) await run(n, 2); // warm-up: JIT, connections
    const before = machine();
    const results: Record<Name, WrkResult[]> = { bare: [], libraryFloor: [], host: [] };
    for (let r = 0; r < rounds; r++) {
      const order = names.map((_, i) => names[(i + r) % names.length]!);
      for (const n of order) results[n].push(await run(n));
    }
    const ratios = (a: Name, b: Name) => ({
      rps: spread(results[a].map((x, i) => x.rps / results[b][i]!.rps)),
      p99: spread(results[a].map((x, i) => x.p99Ms / results[b][i]!.p99Ms)),
    });
    const summary = (n: Name) => ({
      rps: spread(
        results[n].map((x) => x.rps),
        0,
      ),
      p50Ms: spread(results[n].map((x) => x.p50Ms)),
      p99Ms: spread(results[n].map((x) => x.p99Ms)),
      errors: results[n].reduce((e, x) => e + x.errors, 0),
    });
    const hostVsFloor = ratios('host', 'libraryFloor');
    const out = {
      benchmark: 'host-overhead',
      client: 'wrk -t1',
      machine: { ...machine(), loadAverageAtStart: before.loadAverage },
      seconds,
      concurrency,
      rounds,
      bare: summary('bare'),
      libraryFloor: summary('libraryFloor'),
      host: summary('host'),
      /** The host's own overhead: host vs the library floor (per round, then the median). */
      hostOverLibraryFloor: {
        rps: { ...hostVsFloor.rps, ...target('>=', 0.95, hostVsFloor.rps.median) },
        p99: { ...hostVsFloor.p99, ...target('<=', 1.2, hostVsFloor.p99.median) },
      },
      /** Against bare node:http: what the @azure/functions programming model costs on top. */
      hostOverBare: ratios('host', 'bare'),
      libraryFloorOverBare: ratios('libraryFloor', 'bare'),
    };
    console.log(JSON.stringify(out, null, 2));
  } finally {
    bare.kill();
    floor.kill();
    host.kill('SIGTERM');
    await new Promise((r) => host.once('exit', r));
    await azurite.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
