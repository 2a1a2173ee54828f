/**
 * Host overhead: a trivial HTTP function through the local host vs a bare node:http server
 * doing the same work, each in its own process, loaded by the same client in this process.
 * A third server, the "library floor", hands requests straight to @azure/functions' own
 * invocation model: what any Functions-compatible host must pay before doing anything itself.
 * Prints one JSON object. Target: rps ratio (bare / host) <= 1.3.
 *   node dist/bench/host-overhead.js   (BENCH_SECONDS, BENCH_CONCURRENCY to change the run)
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { runLoad } from './lib/load';
import { freePort, waitForPort } from '../local/processes/ports';
import { startAzurite } from '../local/processes/azurite';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const root = path.resolve(__dirname, '../..');

async function measure(url: string) {
  return runLoad({ url, concurrency, durationMs: seconds * 1000, warmupMs: 2000 });
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-host-'));
  const azurite = await startAzurite({ location: path.join(tmp, 'azurite') });
  const barePort = await freePort();
  const bare = spawn(process.execPath, [path.join(__dirname, 'fixtures/bare-ping-server.js'), String(barePort)], { stdio: 'ignore' });
  const floorPort = await freePort();
  const floor = spawn(process.execPath, [path.join(__dirname, 'fixtures/library-floor-server.js'), String(floorPort)], { stdio: 'ignore' });
  const hostPort = await freePort();
  const host = spawn(process.execPath, [path.join(root, 'dist/local/cli.js'), '--entry', path.join(__dirname, 'fixtures/ping-app.js'), '--port', String(hostPort), '--data-dir', path.join(tmp, 'data')], {
    stdio: 'ignore',
    env: { ...process.env, AzureWebJobsStorage: azurite.connectionString, STRATA_LOG_LEVEL: 'warn' },
  });
  try {
    await waitForPort(barePort);
    await waitForPort(hostPort);
    await waitForPort(floorPort);
    // The host answers 503 until every trigger has started.
    for (let i = 0; i < 100 && (await fetch(`http://127.0.0.1:${hostPort}/api/ping`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    const bareResult = await measure(`http://127.0.0.1:${barePort}/api/ping?n=1`);
    const floorResult = await measure(`http://127.0.0.1:${floorPort}/api/ping?n=1`);
    const hostResult = await measure(`http://127.0.0.1:${hostPort}/api/ping?n=1`);
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const out = {
      benchmark: 'host-overhead',
      seconds,
      concurrency,
      bare: bareResult,
      libraryFloor: floorResult,
      host: hostResult,
      ratio: {
        rps: r2(bareResult.rps / hostResult.rps),
        p50: r2(hostResult.p50Ms / bareResult.p50Ms),
        p99: r2(hostResult.p99Ms / bareResult.p99Ms),
      },
      /** The host's own overhead: host vs the library floor. */
      ratioToLibraryFloor: {
        rps: r2(floorResult.rps / hostResult.rps),
        p50: r2(hostResult.p50Ms / floorResult.p50Ms),
        p99: r2(hostResult.p99Ms / floorResult.p99Ms),
      },
      target: { rpsRatioAtMost: 1.3 },
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
