/**
 * `npm start` / `node dist/local/cli.js [start]`: run a Functions app on the local host, as
 * `func start` runs it. In order, so that a mistake stops the start before anything runs:
 *
 *   1. the app: its entry points (package.json `main` or --entry, globs allowed) and its folder
 *   2. local.settings.json: Values into the environment (set variables win), Host.LocalHttpPort, Host.CORS
 *   3. settings (shared/config): a bad one stops the start naming it
 *   4. the port and the data folder: refused when another host holds either, saying which
 *   5. storage: AzureWebJobsStorage (a connection string, or identity-based: __accountName or
 *      __blobServiceUri/__queueServiceUri/__tableServiceUri with a credential), or, only when no
 *      storage setting exists or it says UseDevelopmentStorage=true, the data folder's embedded
 *      Azurite (processes/embedded-azurite.ts: its own process, reused after a host crash,
 *      stopped gracefully with the host)
 *   6. the host: index bindings (unsupported ones refuse the start), serve, trigger, with its
 *      watchdog (local/watchdog: a blocked event loop or memory over budget kills the host after
 *      recording what ran; `--restart`, local/cli/supervise.ts, starts it again)
 */
import path from 'node:path';
import { LocalHost, findAppDir } from '../host';
import { packageMain, resolveEntryPoints } from '../app/entry-points';
import { applySettingValues, readLocalSettings, LocalSettings } from '../app/local-settings';
import { ensureEmbeddedAzurite } from '../processes/embedded-azurite';
import { checkPortFree, lockDataDir, lockHolders, portInUse } from '../processes/host-lock';
import { hostIdentity } from './host-identity';
import { loadConfig, resetConfig, StrataConfig } from '../../shared/config';
import { describeStorage, storageConnectionFromSettings, type StorageConnection } from '../../shared/azure/connections';
import { ConfigError } from '../../shared/errors';
import { StartupError } from '../errors';
import { consoleLogger, Logger } from '../logger';
import type { CorsOptions } from '../http/cors';
import { intOption, ParsedArgs } from './options';
import { DURABLE_SYSTEM_KEY } from '../durable';

/** Set by `--instances` for its hosts: the parent stops the shared embedded Azurite after the last one. */
export const KEEP_STORAGE_VARIABLE = 'STRATA_KEEP_STORAGE';

export interface AppLocation {
  appDir: string;
  /** The pattern the files came from (for messages). */
  entry: string;
  entryPoints: string[];
}

/** The app's folder and entry point files: --entry (relative to the current folder) or package.json `main`. */
export function locateApp(entryFlag: string | undefined, cwd = process.cwd()): AppLocation {
  if (entryFlag) {
    const entryPoints = resolveEntryPoints(entryFlag, cwd);
    return { appDir: findAppDir(path.dirname(entryPoints[0]!)) ?? cwd, entry: entryFlag, entryPoints };
  }
  const main = packageMain(cwd);
  if (!main)
    throw new StartupError(
      `no entry point: ${path.join(cwd, 'package.json')} has no "main" (the Node worker loads package.json main); set it, or pass --entry <file or glob>`,
    );
  return { appDir: cwd, entry: main, entryPoints: resolveEntryPoints(main, cwd) };
}

/** local.settings.json of the app folder, applied to the environment (the notes are printed). */
export function applyLocalSettings(appDir: string, log: (line: string) => void): LocalSettings {
  const settings = readLocalSettings(appDir);
  if (settings.file) {
    log(`local settings: ${settings.file}`);
    for (const note of applySettingValues(settings.values)) log(note);
  }
  return settings;
}

/** The port: --port, else Host.LocalHttpPort, else STRATA_PORT (shared/config, default 7071). */
function portOf(values: ParsedArgs['values'], settings: LocalSettings, cfg: StrataConfig): number {
  return intOption(values, 'port') ?? settings.localHttpPort ?? cfg.port;
}

function corsOf(values: ParsedArgs['values'], settings: LocalSettings): CorsOptions | undefined {
  const flag =
    typeof values.cors === 'string'
      ? values.cors
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean)
      : undefined;
  const origins = flag ?? settings.cors?.origins;
  if (!origins?.length) return undefined;
  return {
    origins,
    credentials: values['cors-credentials'] === true || (flag === undefined && settings.cors?.credentials === true),
  };
}

export interface StorageHandle {
  connection: StorageConnection | string;
  stop(): Promise<void>;
}

/**
 * The host's storage: AzureWebJobsStorage as shared/azure/connections.ts reads it (a connection
 * string, or an identity), else (no storage setting at all, or the development shorthand) the data
 * folder's embedded Azurite: the one still running after a host crash, or a new one. Identity
 * settings never start an Azurite. stop() waits until it has saved its data and exited.
 */
export async function startStorage(
  dataDir: string,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StorageHandle> {
  const r = storageConnectionFromSettings('AzureWebJobsStorage', env, { whenUnset: 'missing' });
  if (!r.ok) throw new ConfigError(r.problems);
  if (
    r.value &&
    !(r.value.kind === 'connectionString' && env.AzureWebJobsStorage?.trim() === 'UseDevelopmentStorage=true')
  ) {
    // Said for an identity (which credential, which endpoints); a connection string is as before.
    if (r.value.kind === 'identity') log('info', `storage: ${describeStorage(r.value)}`);
    return { connection: r.value, stop: async () => undefined };
  }
  const azurite = await ensureEmbeddedAzurite({ dataDir, log });
  log(
    'info',
    `embedded Azurite (pid ${azurite.pid}): blob ${azurite.ports.blob}, queue ${azurite.ports.queue}, table ${azurite.ports.table}; data in ${azurite.location}`,
  );
  return {
    connection: azurite.connectionString,
    async stop() {
      const r = await azurite.stop().catch((e: Error) => void log('error', e.message));
      if (r?.status === 'stopped') log('info', `embedded Azurite stopped and saved (pid ${r.pid}, ${r.ms} ms)`);
    },
  };
}

/** The keys to call the app with (function, admin, and the Durable extension's system key). */
export function printKeys(cfg: StrataConfig): void {
  console.log(
    `function key: ${cfg.functionKey}   admin key: ${cfg.adminKey}   system key (${DURABLE_SYSTEM_KEY}): ${cfg.durableTaskKey}\n`,
  );
}

/** What runs where: printed once the host is ready. */
export function printBanner(host: LocalHost, cfg: StrataConfig, dataDir: string): void {
  const rows = host.describe();
  const w = Math.max(...rows.map((r) => r.name.length), 8);
  console.log(`\nStrata local host ${host.hostId} on ${host.baseUrl}  (data: ${dataDir})`);
  console.log(`online store: ${cfg.redisUrl ? `redis ${cfg.redisUrl}` : 'embedded (set REDIS_URL to use Redis)'}`);
  printKeys(cfg);
  console.log('Functions:');
  for (const r of rows) console.log(`  ${r.name.padEnd(w)}  ${r.trigger.padEnd(22)} ${r.detail}`);
  console.log(`\nReady: ${host.baseUrl}/api/health`);
  if (rows.some((r) => r.name === 'dashboard'))
    console.log(`Dashboard: ${host.baseUrl}/dashboard?code=${encodeURIComponent(cfg.functionKey)}`);
}

export async function startCommand(args: ParsedArgs): Promise<void> {
  const v = args.values;
  const app = locateApp(typeof v.entry === 'string' ? v.entry : undefined);
  const settings = applyLocalSettings(app.appDir, (line) => console.log(line));
  if (typeof v['data-dir'] === 'string') process.env.STRATA_DATA_DIR = v['data-dir'];
  resetConfig();
  const cfg = loadConfig();
  const log = consoleLogger(cfg.logLevel);
  // A safety net, not the fix: every promise is awaited or handled (npm run lint: no-floating-promises,
  // run by npm test); one that slips through is logged instead of ending the host and its work.
  process.on('unhandledRejection', (reason) =>
    log(
      'error',
      `unhandled promise rejection (a bug; the host keeps running): ${(reason as Error)?.stack ?? String(reason)}`,
    ),
  );
  const port = portOf(v, settings, cfg);
  const partitionCount = intOption(v, 'partitions', 1);
  const blobPollMs = intOption(v, 'blob-poll-ms', 1);
  const cors = corsOf(v, settings);
  const dataDir = path.resolve(cfg.dataDir);

  await checkPortFree(port, cfg.adminKey);
  const lock = lockDataDir(dataDir, { port, entry: app.entry });
  const me = hostIdentity(dataDir, lock.slot);
  let storage: StorageHandle | undefined;
  let host: LocalHost | undefined;
  // The host gets 15 s to finish its work; then the embedded Azurite is asked to stop and waited
  // for until it has saved (it is detached: even if this process is killed meanwhile, it finishes).
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return log('info', `${signal}: already stopping`);
    stopping = true;
    log('info', `${signal}: stopping`);
    let code = 0;
    const hostStopped = await Promise.race([
      (host?.stop() ?? Promise.resolve()).then(
        () => true,
        (e: Error) => (log('error', `host stop failed: ${e.message}`), false),
      ),
      new Promise<false>((r) => setTimeout(() => r(false), 15_000).unref()),
    ]);
    if (!hostStopped) {
      log('warn', 'the host did not stop cleanly within 15 s');
      code = 1;
    }
    try {
      // Other hosts on this folder (or the --instances parent, which stops it last) still use it.
      const shared = process.env[KEEP_STORAGE_VARIABLE] === '1' || lockHolders(dataDir).length > 0;
      if (shared) log('info', 'storage: left running for the other hosts on this data dir');
      else await storage?.stop();
    } finally {
      lock.release();
      process.exit(code);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    storage = await startStorage(dataDir, log);
    host = new LocalHost({
      entryPoints: app.entryPoints,
      appDir: app.appDir,
      port,
      dataDir,
      hostId: me.hostId,
      stateDir: me.stateDir,
      storageConnection: storage.connection,
      keys: {
        functionKey: cfg.functionKey,
        adminKey: cfg.adminKey,
        systemKeys: { [DURABLE_SYSTEM_KEY]: cfg.durableTaskKey },
      },
      maxBodyBytes: cfg.uploadMaxBytes,
      watchdog: { memoryBudgetBytes: cfg.memoryBudgetBytes, graceMs: cfg.watchdogGraceMs },
      ...(partitionCount !== undefined ? { partitionCount } : {}),
      ...(blobPollMs !== undefined ? { blobPollMs } : {}),
      ...(cors ? { cors } : {}),
      log,
    });
    await host.start();
  } catch (err) {
    await host?.stop().catch(() => undefined);
    if (process.env[KEEP_STORAGE_VARIABLE] !== '1' && !lockHolders(dataDir).length) await storage?.stop();
    lock.release();
    // Another process took the port between the check and the listen.
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw await portInUse(port, cfg.adminKey);
    throw err;
  }
  printBanner(host, cfg, dataDir);
}
