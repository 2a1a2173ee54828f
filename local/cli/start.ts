/**
 * `npm start` / `node dist/local/cli.js [start]`: run a Functions app on the local host, as
 * `func start` runs it. In order, so that a mistake stops the start before anything runs:
 *
 *   1. the app: its entry points (package.json `main` or --entry, globs allowed) and its folder
 *   2. local.settings.json: Values into the environment (set variables win), Host.LocalHttpPort, Host.CORS
 *   3. settings (shared/config): a bad one stops the start naming it
 *   4. the port and the data folder: refused when another host holds either, saying which
 *   5. storage: AzureWebJobsStorage, or an embedded Azurite with its data under <data-dir>/azurite
 *   6. the host: index bindings (unsupported ones refuse the start), serve, trigger
 */
import path from 'node:path';
import { LocalHost, findAppDir } from '../host';
import { packageMain, resolveEntryPoints } from '../app/entry-points';
import { applySettingValues, readLocalSettings, LocalSettings } from '../app/local-settings';
import { startAzurite } from '../processes/azurite';
import { checkPortFree, lockDataDir, portInUse } from '../processes/host-lock';
import { loadConfig, resetConfig, StrataConfig } from '../../shared/config';
import { StartupError } from '../errors';
import { consoleLogger, Logger } from '../logger';
import type { CorsOptions } from '../http/cors';
import { intOption, ParsedArgs } from './options';
import { DURABLE_SYSTEM_KEY } from '../durable';

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
  if (!main) throw new StartupError(`no entry point: ${path.join(cwd, 'package.json')} has no "main" (the Node worker loads package.json main); set it, or pass --entry <file or glob>`);
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
  const flag = typeof values.cors === 'string' ? values.cors.split(',').map((o) => o.trim()).filter(Boolean) : undefined;
  const origins = flag ?? settings.cors?.origins;
  if (!origins?.length) return undefined;
  return { origins, credentials: values['cors-credentials'] === true || (flag === undefined && settings.cors?.credentials === true) };
}

export interface StorageHandle {
  connectionString: string;
  stop(): Promise<void>;
}

/**
 * The host's storage: AzureWebJobsStorage when it names real storage, else (unset, or the
 * development shorthand) an embedded Azurite with its data under <data-dir>/azurite.
 */
export async function startStorage(dataDir: string, log: Logger): Promise<StorageHandle> {
  const configured = process.env.AzureWebJobsStorage;
  if (configured && configured !== 'UseDevelopmentStorage=true') return { connectionString: configured, stop: async () => undefined };
  const azurite = await startAzurite({ location: path.join(dataDir, 'azurite'), logFile: path.join(dataDir, 'azurite.log') });
  log('info', `embedded Azurite: blob ${azurite.ports.blob}, queue ${azurite.ports.queue}, table ${azurite.ports.table}; data in ${azurite.location}`);
  return { connectionString: azurite.connectionString, stop: () => azurite.stop() };
}

/** The keys to call the app with (function, admin, and the Durable extension's system key). */
export function printKeys(cfg: StrataConfig): void {
  console.log(`function key: ${cfg.functionKey}   admin key: ${cfg.adminKey}   system key (${DURABLE_SYSTEM_KEY}): ${cfg.durableTaskKey}\n`);
}

/** What runs where: printed once the host is ready. */
export function printBanner(host: LocalHost, cfg: StrataConfig, dataDir: string): void {
  const rows = host.describe();
  const w = Math.max(...rows.map((r) => r.name.length), 8);
  console.log(`\nStrata local host on ${host.baseUrl}  (data: ${dataDir})`);
  console.log(`online store: ${cfg.redisUrl ? `redis ${cfg.redisUrl}` : 'embedded (set REDIS_URL to use Redis)'}`);
  printKeys(cfg);
  console.log('Functions:');
  for (const r of rows) console.log(`  ${r.name.padEnd(w)}  ${r.trigger.padEnd(22)} ${r.detail}`);
  console.log(`\nReady: ${host.baseUrl}/api/health`);
  if (rows.some((r) => r.name === 'dashboard')) console.log(`Dashboard: ${host.baseUrl}/dashboard?code=${encodeURIComponent(cfg.functionKey)}`);
}

export async function startCommand(args: ParsedArgs): Promise<void> {
  const v = args.values;
  const app = locateApp(typeof v.entry === 'string' ? v.entry : undefined);
  const settings = applyLocalSettings(app.appDir, (line) => console.log(line));
  if (typeof v['data-dir'] === 'string') process.env.STRATA_DATA_DIR = v['data-dir'];
  resetConfig();
  const cfg = loadConfig();
  const log = consoleLogger(cfg.logLevel);
  // A safety net, not the fix: every promise is awaited or handled (scripts/check-floating-promises.js,
  // run by npm test); one that slips through is logged instead of ending the host and its work.
  process.on('unhandledRejection', (reason) => log('error', `unhandled promise rejection (a bug; the host keeps running): ${(reason as Error)?.stack ?? String(reason)}`));
  const port = portOf(v, settings, cfg);
  const partitionCount = intOption(v, 'partitions', 1);
  const blobPollMs = intOption(v, 'blob-poll-ms', 1);
  const cors = corsOf(v, settings);
  const dataDir = path.resolve(cfg.dataDir);

  await checkPortFree(port, cfg.adminKey);
  const lock = lockDataDir(dataDir, { port, entry: app.entry });
  let storage: StorageHandle | undefined;
  let host: LocalHost | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', `${signal}: stopping`);
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    try {
      await host?.stop();
      await storage?.stop();
    } finally {
      lock.release();
      process.exit(0);
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
      storageConnection: storage.connectionString,
      keys: { functionKey: cfg.functionKey, adminKey: cfg.adminKey, systemKeys: { [DURABLE_SYSTEM_KEY]: cfg.durableTaskKey } },
      maxBodyBytes: cfg.uploadMaxBytes,
      ...(partitionCount !== undefined ? { partitionCount } : {}),
      ...(blobPollMs !== undefined ? { blobPollMs } : {}),
      ...(cors ? { cors } : {}),
      log,
    });
    await host.start();
  } catch (err) {
    await host?.stop().catch(() => undefined);
    await storage?.stop();
    lock.release();
    // Another process took the port between the check and the listen.
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw await portInUse(port, cfg.adminKey);
    throw err;
  }
  printBanner(host, cfg, dataDir);
}
