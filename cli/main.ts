/**
 * `strata`: the command line of a Strata app. Each command talks to a running app over HTTP
 * (--url, keys from the environment or flags), so the same commands work against `npm start`
 * and a deployed Function App; `start` runs the local host itself.
 *
 * Arguments are parsed with node:util parseArgs (strict): it ships with Node, is what the
 * local host's own CLI uses, and leaves help, exit codes and --json to one convention here
 * rather than a framework's. Exit codes: 0 done, 1 failed, 2 bad usage (cli/core/errors.ts).
 */
import { parseArgs } from 'node:util';
import { COMMANDS } from './commands';
import { CommandContext, type CommandSpec, type OptionSpec } from './core/command';
import { ApiClient } from './core/client';
import { ApiError, Failed, UsageError } from './core/errors';
import { GLOBAL_OPTIONS, commandHelp, mainHelp } from './core/help';
import { Output } from './core/output';
import { APP_VERSION } from '../shared/version';

/** Pick the command (and subcommand) the arguments name; the rest are its arguments. */
function resolve(argv: string[]): { path: string[]; spec: CommandSpec; rest: string[] } | undefined {
  const top = COMMANDS.find((c) => c.name === argv[0]);
  if (!top) return undefined;
  if (!top.subcommands?.length) return { path: [top.name], spec: top, rest: argv.slice(1) };
  const next = argv[1];
  if (next === '--help' || next === '-h') return { path: [top.name], spec: top, rest: ['--help'] };
  const sub = top.subcommands.find((s) => s.name === next);
  if (sub) return { path: [top.name, sub.name], spec: sub, rest: argv.slice(2) };
  if (next !== undefined && !next.startsWith('-')) {
    throw new UsageError(
      `unknown command "${top.name} ${next}"; commands: ${top.subcommands.map((s) => s.name).join(', ')}`,
    );
  }
  const first = top.subcommands[0]!;
  return { path: [top.name, first.name], spec: first, rest: argv.slice(1) };
}

function parseOptions(spec: CommandSpec, rest: string[]) {
  const options: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, ...(spec.options ?? {}) };
  const config = Object.fromEntries(
    Object.entries(options).map(([k, o]) => [
      k,
      { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
    ]),
  );
  try {
    return parseArgs({ args: rest, options: config, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

function checkPositionals(spec: CommandSpec, positionals: string[]): void {
  const want = spec.positionals ?? [];
  const required = want.filter((p) => p.required).length;
  const variadic = want.some((p) => p.variadic);
  if (positionals.length < required) {
    const next = want[positionals.length]!;
    throw new UsageError(`missing <${next.name}${next.variadic ? '...' : ''}>`);
  }
  if (!variadic && positionals.length > want.length)
    throw new UsageError(`unexpected argument "${positionals[want.length]}"`);
}

function clientFor(values: Record<string, unknown>): () => ApiClient {
  return () => {
    const env = process.env;
    // The local host's defaults come from the one config schema (not repeated here; loaded on use).
    const { loadConfig } = require('../shared/config') as typeof import('../shared/config');
    const local = loadConfig({
      STRATA_PORT: env.STRATA_PORT,
      STRATA_FUNCTION_KEY: env.STRATA_FUNCTION_KEY,
      STRATA_ADMIN_KEY: env.STRATA_ADMIN_KEY,
    });
    return new ApiClient({
      url: (values.url as string | undefined) ?? env.STRATA_URL ?? `http://127.0.0.1:${local.port}`,
      functionKey: (values['function-key'] as string | undefined) ?? local.functionKey,
      adminKey: (values['admin-key'] as string | undefined) ?? local.adminKey,
    });
  };
}

/** Run the command line; resolves with the exit code. */
export async function main(argv: string[], out?: Output): Promise<number> {
  const wantsJson = argv.includes('--json');
  const output = out ?? new Output(wantsJson);
  let name = 'strata';
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      output.print(mainHelp(COMMANDS, APP_VERSION));
      return argv.length === 0 ? 2 : 0;
    }
    if (argv[0] === '--version') {
      output.print(APP_VERSION);
      return 0;
    }
    const found = resolve(argv);
    if (!found)
      throw new UsageError(`unknown command "${argv[0]}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
    const { path, spec, rest } = found;
    name = `strata ${path.join(' ')}`;
    if (spec.passthrough) {
      if (rest.includes('--help') || rest.includes('-h')) {
        output.print(commandHelp(path, spec));
        return 0;
      }
      const ctx = new CommandContext(name, [], {}, clientFor({}), output, rest);
      return (await spec.run!(ctx)) ?? 0;
    }
    const { values, positionals } = parseOptions(spec, rest);
    if (values.help || !spec.run) {
      output.print(commandHelp(path, spec));
      return values.help ? 0 : 2;
    }
    checkPositionals(spec, positionals);
    const ctx = new CommandContext(
      name,
      positionals,
      values as Record<string, string | boolean | string[] | undefined>,
      clientFor(values),
      output,
    );
    return (await spec.run(ctx)) ?? 0;
  } catch (e) {
    return report(e, name, output);
  }
}

function report(e: unknown, name: string, out: Output): number {
  if (e instanceof UsageError) {
    out.note(`${name}: ${e.message}\n(see \`${name} --help\`)`);
    if (out.json) out.print(JSON.stringify({ ok: false, error: e.message, usage: true }));
    return 2;
  }
  if (e instanceof ApiError || e instanceof Failed) {
    out.note(`${name}: ${e.message}`);
    if (out.json) {
      out.print(
        JSON.stringify(
          e instanceof ApiError
            ? { ok: false, error: e.apiMessage, status: e.status, request: `${e.method} ${e.path}`, details: e.details }
            : { ok: false, error: e.message },
        ),
      );
    }
    return 1;
  }
  out.note(`${name}: unexpected error: ${(e as Error).stack ?? String(e)}`);
  return 1;
}

/** The process entry (bin/strata.js): run with this process's arguments and set its exit code. */
export function cli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) cli();
