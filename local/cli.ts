#!/usr/bin/env node
/**
 * `npm start` — run a Functions app on the local host.
 *
 *   node dist/local/cli.js [--entry <file.js>] [--port <n>] [--data-dir <dir>] [--partitions <n>] [--blob-poll-ms <n>]
 *   node dist/local/cli.js send <hub> [--file <events.jsonl>] [--partition-key-field <field>] [--url <host url>]
 *
 * Storage: AzureWebJobsStorage when set, otherwise an embedded Azurite with its data under
 * <data-dir>/azurite. The app reads REDIS_URL etc. itself (shared/config).
 */
import fs from 'node:fs';
import path from 'node:path';
import { LocalHost } from './host';
import { startAzurite, AzuriteHandle } from './processes/azurite';
import { loadConfig, resetConfig } from '../shared/config';
import { ConfigError } from '../shared/errors';
import { consoleLogger } from './logger';
import { DURABLE_SYSTEM_KEY } from './durable';

interface Flags {
  positional: string[];
  values: Record<string, string>;
}

export function parseFlags(argv: string[]): Flags {
  const out: Flags = { positional: [], values: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) out.values[a.slice(2, eq)] = a.slice(eq + 1);
      else {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('--')) out.values[a.slice(2)] = 'true';
        else {
          out.values[a.slice(2)] = next;
          i++;
        }
      }
    } else out.positional.push(a);
  }
  return out;
}

function intFlag(flags: Flags, name: string): number | undefined {
  const v = flags.values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got "${v}"`);
  return n;
}

function defaultEntry(): string {
  const pkgPath = path.resolve('package.json');
  if (fs.existsSync(pkgPath)) {
    const main = (JSON.parse(fs.readFileSync(pkgPath, 'utf8')) as { main?: string }).main;
    if (main) return path.resolve(main);
  }
  return path.resolve('dist/functions/index.js');
}

async function serve(flags: Flags): Promise<void> {
  if (flags.values['data-dir']) process.env.STRATA_DATA_DIR = flags.values['data-dir'];
  if (flags.values.port) process.env.STRATA_PORT = flags.values.port;
  resetConfig();
  const cfg = loadConfig();
  const log = consoleLogger(cfg.logLevel);
  // A safety net, not the fix: every promise is awaited or handled (scripts/check-floating-promises.js,
  // run by npm test); one that slips through is logged instead of ending the host and its work.
  process.on('unhandledRejection', (reason) => log('error', `unhandled promise rejection (a bug; the host keeps running): ${(reason as Error)?.stack ?? String(reason)}`));
  const entry = flags.values.entry ? path.resolve(flags.values.entry) : defaultEntry();
  if (!fs.existsSync(entry)) throw new Error(`entry file ${entry} does not exist (run \`npm run build\` first, or pass --entry <file.js>)`);
  const dataDir = path.resolve(cfg.dataDir);

  let azurite: AzuriteHandle | undefined;
  let storageConnection = process.env.AzureWebJobsStorage;
  if (!storageConnection) {
    azurite = await startAzurite({ location: path.join(dataDir, 'azurite'), logFile: path.join(dataDir, 'azurite.log') });
    storageConnection = azurite.connectionString;
    log('info', `embedded Azurite: blob ${azurite.ports.blob}, queue ${azurite.ports.queue}, table ${azurite.ports.table}; data in ${azurite.location}`);
  }

  const host = new LocalHost({
    entry,
    port: cfg.port,
    dataDir,
    storageConnection,
    keys: { functionKey: cfg.functionKey, adminKey: cfg.adminKey, systemKeys: { [DURABLE_SYSTEM_KEY]: cfg.durableTaskKey } },
    maxBodyBytes: cfg.uploadMaxBytes,
    partitionCount: intFlag(flags, 'partitions'),
    blobPollMs: intFlag(flags, 'blob-poll-ms'),
    log,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', `${signal}: stopping`);
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    try {
      await host.stop();
      await azurite?.stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    await host.start();
  } catch (err) {
    await azurite?.stop();
    throw err;
  }
  const rows = host.describe();
  const w = Math.max(...rows.map((r) => r.name.length), 8);
  console.log(`\nStrata local host on ${host.baseUrl}  (data: ${dataDir})`);
  console.log(`online store: ${cfg.redisUrl ? `redis ${cfg.redisUrl}` : 'embedded (set REDIS_URL to use Redis)'}`);
  console.log(`function key: ${cfg.functionKey}   admin key: ${cfg.adminKey}   system key (${DURABLE_SYSTEM_KEY}): ${cfg.durableTaskKey}\n`);
  console.log('Functions:');
  for (const r of rows) console.log(`  ${r.name.padEnd(w)}  ${r.trigger.padEnd(22)} ${r.detail}`);
  console.log(`\nReady: ${host.baseUrl}/api/health`);
  if (rows.some((r) => r.name === 'dashboard')) console.log(`Dashboard: ${host.baseUrl}/dashboard?code=${encodeURIComponent(cfg.functionKey)}`);
}

async function send(flags: Flags): Promise<void> {
  const hub = flags.positional[1];
  if (!hub) throw new Error('usage: send <hub> [--file events.jsonl] [--partition-key-field f] [--url http://127.0.0.1:7071]');
  const cfg = loadConfig();
  const url = new URL(`/api/_local/eventhubs/${encodeURIComponent(hub)}`, flags.values.url ?? `http://127.0.0.1:${cfg.port}`);
  if (flags.values['partition-key-field']) url.searchParams.set('partitionKeyField', flags.values['partition-key-field']);
  const body = flags.values.file ? fs.readFileSync(flags.values.file) : fs.readFileSync(0);
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson', 'x-functions-key': cfg.adminKey } });
  console.log(res.status, await res.text());
  if (!res.ok) process.exitCode = 1;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.positional[0] === 'send') return send(flags);
  return serve(flags);
}

main().catch((err) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error(`strata: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
