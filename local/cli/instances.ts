/**
 * `npm start -- --instances N`: N hosts on one storage, as a Function App scaled out to N
 * instances shares one storage account: one embedded Azurite for the data folder (started here,
 * stopped after the last host), one Redis (a redis-server started here when REDIS_URL is unset
 * and one is on PATH), and N host processes on ports --port, --port+1, ... (7071 by default; 0:
 * free ports), each supervised (local/cli/supervise.ts: restarted after a crash). Every host
 * takes its own slot of the data folder (processes/host-lock.ts), which names it on the task hub.
 */
import path from 'node:path';
import { loadConfig, resetConfig } from '../../shared/config';
import { StartupError } from '../errors';
import { consoleLogger } from '../logger';
import { freePort } from '../processes/ports';
import { redisServerPath, startRedis, type RedisHandle } from '../processes/redis';
import { intOption, type ParsedArgs } from './options';
import { applyLocalSettings, KEEP_STORAGE_VARIABLE, locateApp, startStorage } from './start';
import { superviseHost } from './supervise';

/** The command line for one host: the same flags without --instances, --restart and --port. */
function hostArgs(rest: string[], port: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--instances' || a === '--port') i++;
    else if (a.startsWith('--instances=') || a.startsWith('--port=') || a === '--restart') continue;
    else out.push(a);
  }
  return ['start', ...out, '--port', String(port)];
}

export async function startInstances(cli: string, args: ParsedArgs, rest: string[]): Promise<number> {
  const v = args.values;
  const n = intOption(v, 'instances', 1)!;
  const app = locateApp(typeof v.entry === 'string' ? v.entry : undefined);
  applyLocalSettings(app.appDir, (line) => console.log(line));
  if (typeof v['data-dir'] === 'string') process.env.STRATA_DATA_DIR = v['data-dir'];
  resetConfig();
  const cfg = loadConfig();
  const log = consoleLogger(cfg.logLevel);
  const dataDir = path.resolve(cfg.dataDir);
  const base = intOption(v, 'port') ?? cfg.port;
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(base === 0 ? await freePort() : base + i);

  const storage = await startStorage(dataDir, log);
  let redis: RedisHandle | undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, [KEEP_STORAGE_VARIABLE]: '1' };
  if (typeof storage.connection === 'string') env.AzureWebJobsStorage = storage.connection;
  if (!env.REDIS_URL) {
    if (redisServerPath()) {
      redis = await startRedis();
      env.REDIS_URL = redis.url;
      log('info', `redis-server for the ${n} hosts: ${redis.url}`);
    } else
      log(
        'warn',
        'no REDIS_URL and no redis-server on PATH: each host keeps its own embedded online store, so online reads differ between hosts',
      );
  }
  console.log(`Starting ${n} Strata hosts on one storage (data: ${dataDir}):`);
  ports.forEach((p, i) => console.log(`  instance ${i + 1}: http://127.0.0.1:${p}`));
  if (new Set(ports).size !== ports.length) throw new StartupError('--instances: the hosts need distinct ports');
  const codes = await Promise.all(
    ports.map((p, i) =>
      superviseHost(cli, hostArgs(rest, p), (line) => console.error(`[instance ${i + 1}] ${line}`), env),
    ),
  );
  await storage.stop();
  await redis?.stop();
  return Math.max(...codes);
}
