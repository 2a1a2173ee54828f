/** `strata start [options]`: run the app on the local host, exactly as `npm start` does (`start --restart`). */
import type { CommandSpec } from '../core/command';
import { runLocalHost } from '../local-host';
import { RESTART_FLAG } from '../../local/cli/supervise';

export const startCommand: CommandSpec = {
  name: 'start',
  summary: 'run the app on the local host: embedded Azurite, local Event Hubs bus, Durable engine (npm start)',
  description: [
    'Serves the compiled app (package.json main) on http://127.0.0.1:7071 like `func start`, and prints its',
    'functions and keys. As with `npm start`, the host runs under a supervisor that starts it again after a',
    'crash (--restart). The arguments go to the local host unchanged:',
    '  --port <n>            port (default STRATA_PORT or 7071)',
    '  --data-dir <dir>      state folder (default STRATA_DATA_DIR or .strata)',
    '  --entry <file.js>     the app to run (default: package.json main)',
    '  --partitions <n>      partitions per local event hub (default 4)',
    '  --blob-poll-ms <n>    how often blob triggers look for new blobs (default 1000)',
    'Uses AzureWebJobsStorage when set, else an embedded Azurite; REDIS_URL for Redis, else the embedded online store.',
    'Stop it with Ctrl-C.',
  ].join('\n'),
  passthrough: true,
  examples: ['npx strata start', 'npx strata start --port 7072 --data-dir /tmp/strata-b'],
  async run(ctx) {
    // The same command line as package.json's start script, so the two cannot drift apart.
    runLocalHost(ctx.raw.includes(RESTART_FLAG) ? ctx.raw : [RESTART_FLAG, ...ctx.raw]);
  },
};
