/**
 * How the command line reports a failed command: the user's mistakes (a bad option, setting,
 * entry point or binding; a port or data folder in use; an app file that throws while loading)
 * as one line, the host's own bugs with their stack.
 */
import { ConfigError } from '../../shared/errors';
import { StartupError } from '../errors';
import { EntryPointLoadError } from '../functions-core';

/** One line for the user's mistakes; the stack only for the host's own bugs. */
export function errorText(err: unknown): string {
  if (err instanceof StartupError || err instanceof ConfigError) return `strata: ${err.message}`;
  if (err instanceof EntryPointLoadError) {
    const cause = err.cause as Error | undefined;
    const at = cause?.stack
      ?.split('\n')
      .find((l) => /^\s+at /.test(l) && !l.includes('node:internal'))
      ?.trim();
    return `strata: ${err.message}${at ? ` (${at})` : ''}`;
  }
  return `strata: ${(err as Error)?.stack ?? String(err)}`;
}
