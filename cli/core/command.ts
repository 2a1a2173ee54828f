/**
 * What a `strata` command is: its name, help text, options (node:util parseArgs), positional
 * arguments and what it runs. One file per command in cli/commands/ exports one of these;
 * main.ts parses, prints help, maps errors to exit codes and calls `run`. Adding a command is
 * one file plus one line in cli/commands/index.ts.
 */
import type { ApiClient } from './client';
import type { Output } from './output';
import { UsageError } from './errors';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help: `--from <time>`. */
  value?: string;
  description: string;
}

export interface PositionalSpec {
  name: string;
  required?: boolean;
  /** Takes every remaining argument (at least one when required). */
  variadic?: boolean;
}

export interface CommandSpec {
  name: string;
  /** One line, for the command list. */
  summary: string;
  /** More lines of help: what it does, what it prints, what exit codes mean for it. */
  description?: string;
  positionals?: PositionalSpec[];
  options?: Record<string, OptionSpec>;
  examples?: string[];
  /** `models list`, `models register`, ...: the first positional picks one (the first is the default). */
  subcommands?: CommandSpec[];
  /** Hand the raw arguments to run() unparsed (start: they are the local host's). */
  passthrough?: boolean;
  /** Exit code (default 0). */
  run?(ctx: CommandContext): Promise<number | void>;
}

type Value = string | boolean | string[] | undefined;

/** What a command's run() gets: its parsed arguments, the API client and the output. */
export class CommandContext {
  constructor(
    readonly command: string,
    readonly positionals: string[],
    private readonly values: Record<string, Value>,
    private readonly clientOf: () => ApiClient,
    readonly out: Output,
    /** The arguments as given (passthrough commands). */
    readonly raw: string[] = [],
  ) {}

  private _api?: ApiClient;
  /** The HTTP client for --url with the keys (made on first use). */
  get api(): ApiClient {
    return (this._api ??= this.clientOf());
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    if (Array.isArray(v)) return v[v.length - 1];
    return typeof v === 'string' ? v : undefined;
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
    return v;
  }

  strings(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  }

  /** A comma-separated option as its items (`--views a,b`); undefined when not given. */
  list(name: string): string[] | undefined {
    const v = this.string(name);
    return v === undefined
      ? undefined
      : v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  /** A number option: parsed, checked against [min, max], or the default. */
  number(name: string, fallback: number, range: { min?: number; max?: number; integer?: boolean } = {}): number {
    const text = this.string(name);
    if (text === undefined) return fallback;
    const n = Number(text);
    const { min = -Infinity, max = Infinity, integer = false } = range;
    if (text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
      const want = `${integer ? 'a whole number' : 'a number'}${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` <= ${max}` : ''}`;
      throw new UsageError(`--${name} must be ${want}, got "${text}"`);
    }
    return n;
  }
}
