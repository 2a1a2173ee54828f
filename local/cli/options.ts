/**
 * The command line's grammar, in one table per command: node:util parseArgs reads it (strict: an
 * unknown option is an error that lists the valid ones) and --help prints it, so the two never
 * disagree.
 */
import { parseArgs } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { StartupError } from '../errors';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in --help ("<n>"). */
  value?: string;
  help: string;
}

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments after the command name (names, for --help and errors). */
  positionals: string[];
}

const COMMON: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', help: 'print this help and exit' },
  version: { type: 'boolean', help: 'print the version and exit' },
};

export const START: CommandSpec = {
  name: 'start',
  usage: 'node dist/local/cli.js [start] [options]',
  summary: 'Run a Functions app (package.json `main`, or --entry) on the local host, as `func start` would.',
  positionals: [],
  options: {
    entry: {
      type: 'string',
      value: '<file or glob>',
      help: "the app's entry point(s), e.g. 'dist/src/functions/*.js' (default: package.json main)",
    },
    port: {
      type: 'string',
      value: '<n>',
      help: 'HTTP port (default: local.settings.json Host.LocalHttpPort, else STRATA_PORT, else 7071; 0 = any free port)',
    },
    'data-dir': {
      type: 'string',
      value: '<dir>',
      help: 'local state: embedded Azurite data, caches (default: STRATA_DATA_DIR, else .strata)',
    },
    partitions: { type: 'string', value: '<n>', help: 'partitions per local event hub (default 4)' },
    'blob-poll-ms': { type: 'string', value: '<n>', help: 'how often blob triggers look for new blobs (default 1000)' },
    cors: {
      type: 'string',
      value: '<origins>',
      help: 'comma-separated allowed origins, or * (default: local.settings.json Host.CORS)',
    },
    'cors-credentials': { type: 'boolean', help: 'allow credentials on cross-origin requests (Host.CORSCredentials)' },
    instances: {
      type: 'string',
      value: '<n>',
      help: 'run n hosts on one storage (ports --port, --port+1, ...; one embedded Azurite, one Redis), each restarted after a crash',
    },
    restart: {
      type: 'boolean',
      help: 'run the host as a child process and start it again when it crashes (its watchdog, out of memory, a fatal error); npm start passes it',
    },
    ...COMMON,
  },
};

export const SEND: CommandSpec = {
  name: 'send',
  usage: 'node dist/local/cli.js send <hub> [options] [< events.jsonl]',
  summary: 'Publish JSON-lines events to a local event hub of a running host (standard input unless --file).',
  positionals: ['hub'],
  options: {
    file: { type: 'string', value: '<events.jsonl>', help: 'read events from this file (one JSON value per line)' },
    'partition-key-field': {
      type: 'string',
      value: '<field>',
      help: 'route each event by this field of its body (e.g. user_id)',
    },
    url: {
      type: 'string',
      value: '<host url>',
      help: "the running host (default: http://127.0.0.1:<port of this folder's settings>)",
    },
    ...COMMON,
  },
};

export const STOP_STORAGE: CommandSpec = {
  name: 'stop-storage',
  usage: 'node dist/local/cli.js stop-storage [options]',
  summary:
    "Stop a data folder's embedded Azurite gracefully (it keeps running after a host crash), waiting until it has saved.",
  positionals: [],
  options: {
    'data-dir': { type: 'string', value: '<dir>', help: 'the data folder (default: STRATA_DATA_DIR, else .strata)' },
    force: { type: 'boolean', help: 'stop it even while a host holds the data folder' },
    ...COMMON,
  },
};

export const COMMANDS: CommandSpec[] = [START, SEND, STOP_STORAGE];

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

function flagList(spec: CommandSpec): string {
  return Object.keys(spec.options)
    .map((o) => `--${o}`)
    .join(', ');
}

/** Parse a command's arguments strictly; errors name the bad argument and list the valid ones. */
export function parseCommandArgs(spec: CommandSpec, args: string[]): ParsedArgs {
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([k, o]) => [k, o.short ? { type: o.type, short: o.short } : { type: o.type }]),
  ) as Record<string, { type: 'string' | 'boolean'; short?: string }>;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const unknown = /Unknown option '([^']+)'/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      throw new StartupError(`unknown option ${unknown} for "${spec.name}"; valid options: ${flagList(spec)}`);
    }
    const missing = /Option '([^']+)' argument missing/.exec(err.message)?.[1];
    if (missing) throw new StartupError(`option ${missing.split(' ')[0]} needs a value (see --help)`);
    throw new StartupError(`${err.message.split('.')[0]} (see --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (!values.help && !values.version && parsed.positionals.length > spec.positionals.length) {
    const extra = parsed.positionals.slice(spec.positionals.length);
    throw new StartupError(
      `unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((x) => `"${x}"`).join(' ')} for "${spec.name}" (usage: ${spec.usage})`,
    );
  }
  return { values, positionals: parsed.positionals };
}

/** A whole-number option, or undefined when it was not given. */
export function intOption(values: ParsedArgs['values'], name: string, min = 0): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new StartupError(`--${name} must be a whole number${min ? ` of at least ${min}` : ''}, got "${String(v)}"`);
  }
  return n;
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(
    ([k, o]) => [`${o.short ? `-${o.short}, ` : '    '}--${k}${o.value ? ` ${o.value}` : ''}`, o.help] as const,
  );
  const w = Math.max(...rows.map(([l]) => l.length));
  const nameWidth = Math.max(...COMMANDS.map((c) => c.name.length));
  const others = COMMANDS.filter((c) => c !== spec).map((c) => `  ${c.name.padEnd(nameWidth)}  ${c.summary}`);
  return [
    `usage: ${spec.usage}`,
    '',
    spec.summary,
    '',
    'options:',
    ...rows.map(([l, h]) => `  ${l.padEnd(w)}  ${h}`),
    '',
    'other commands:',
    ...others,
  ].join('\n');
}

/** "strata 0.1.0 (local Functions host ...)". */
export function versionText(hostVersion: string): string {
  // The nearest package.json above this file is Strata's (from local/cli and dist/local/cli alike).
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
  return `${pkg.name} ${pkg.version} (local Functions host ${hostVersion}, Node.js ${process.version})`;
}
