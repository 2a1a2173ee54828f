/**
 * `node dist/local/cli.js stop-storage [--data-dir <dir>] [--force]` (`npm run stop-storage`): stop
 * a data folder's embedded Azurite, which keeps running after a host crash, gracefully (one
 * SIGTERM, then wait until it has saved and exited: processes/embedded-azurite.ts). Refused while
 * a host holds the folder: stopping that host stops its storage too.
 */
import path from 'node:path';
import { loadConfig, resetConfig } from '../../shared/config';
import { StartupError } from '../errors';
import { consoleLogger } from '../logger';
import { stopEmbeddedAzurite } from '../processes/embedded-azurite';
import { lockHolder } from '../processes/host-lock';
import type { ParsedArgs } from './options';

export async function stopStorageCommand(args: ParsedArgs): Promise<void> {
  const v = args.values;
  if (typeof v['data-dir'] === 'string') process.env.STRATA_DATA_DIR = v['data-dir'];
  resetConfig();
  const dataDir = path.resolve(loadConfig().dataDir);
  const host = lockHolder(dataDir);
  if (host && v.force !== true) {
    throw new StartupError(
      `the Strata host (pid ${host.pid}, port ${host.port}) is using ${dataDir}: stop the host (Ctrl-C or SIGTERM), which stops its storage too, or pass --force`,
    );
  }
  let r: Awaited<ReturnType<typeof stopEmbeddedAzurite>>;
  try {
    r = await stopEmbeddedAzurite(dataDir, { log: consoleLogger() });
  } catch (e) {
    throw new StartupError((e as Error).message);
  }
  console.log(
    r.status === 'stopped'
      ? `stopped the embedded Azurite of ${dataDir} (pid ${r.pid}); its data is saved`
      : `no embedded Azurite is running for ${dataDir}`,
  );
}
