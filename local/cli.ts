#!/usr/bin/env node
/**
 * The local host's command line (`npm start` runs `start`):
 *
 *   node dist/local/cli.js [start] [--restart] [--instances <n>] [--entry <file or glob>] [--port <n>] [--data-dir <dir>] ...
 *   node dist/local/cli.js send <hub> [--file <events.jsonl>] [--partition-key-field <field>] [--url <host url>]
 *   node dist/local/cli.js stop-storage [--data-dir <dir>] [--force]
 *   node dist/local/cli.js --help | --version
 *
 * Arguments are parsed strictly (local/cli/options.ts); --help and --version start nothing. A
 * mistake the user can fix (a bad option, setting, entry point or binding, a port or data folder
 * in use) is printed as one line; only a bug in the host prints a stack.
 */
import { StartupError } from './errors';
import { functionsCore } from './functions-core';
import { errorText } from './cli/error-text';
import { COMMANDS, CommandSpec, helpText, parseCommandArgs, ParsedArgs, START, versionText } from './cli/options';

/** What each command runs (loaded on use: --help and --version need none of the host). */
/* eslint-disable @typescript-eslint/no-require-imports */
const RUN: Record<string, (args: ParsedArgs) => Promise<void>> = {
  start: (args) => (require('./cli/start') as typeof import('./cli/start')).startCommand(args),
  send: (args) => (require('./cli/send') as typeof import('./cli/send')).sendCommand(args),
  'stop-storage': (args) =>
    (require('./cli/stop-storage') as typeof import('./cli/stop-storage')).stopStorageCommand(args),
};
/* eslint-enable @typescript-eslint/no-require-imports */

function commandOf(argv: string[]): { spec: CommandSpec; rest: string[] } {
  const first = argv[0];
  if (first === undefined || first.startsWith('-')) return { spec: START, rest: argv };
  const spec = COMMANDS.find((c) => c.name === first);
  if (!spec)
    throw new StartupError(
      `unknown command "${first}"; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see --help)`,
    );
  return { spec, rest: argv.slice(1) };
}

async function main(argv: string[]): Promise<void> {
  const { spec, rest } = commandOf(argv);
  const args = parseCommandArgs(spec, rest);
  if (args.values.help) return void console.log(helpText(spec));
  if (args.values.version) return void console.log(versionText(functionsCore.api.hostVersion));
  if (spec === START && args.values.instances !== undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startInstances } = require('./cli/instances') as typeof import('./cli/instances');
    process.exit(await startInstances(__filename, args, rest));
  }
  if (spec === START && args.values.restart) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { superviseHost, RESTART_FLAG } = require('./cli/supervise') as typeof import('./cli/supervise');
    process.exit(await superviseHost(__filename, [spec.name, ...rest.filter((a) => a !== RESTART_FLAG)]));
  }
  await RUN[spec.name]!(args);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(errorText(err));
  process.exit(1);
});
