/**
 * The one seam between `strata start` and the local host: run the local host's own command
 * line (local/cli.ts, what `npm start` runs) in this process, as `start` with the given
 * arguments. Its options, defaults and shutdown stay the local host's alone.
 */
export function runLocalHost(args: readonly string[]): void {
  const entry = require.resolve('../local/cli');
  process.argv = [process.argv[0]!, entry, 'start', ...args];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(entry);
}
