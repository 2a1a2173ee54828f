/** --help text, made from the command specs so help and parsing never disagree. */
import type { CommandSpec, OptionSpec } from './command';

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: {
    type: 'string',
    value: '<url>',
    description: 'the app (env STRATA_URL; default http://127.0.0.1:$STRATA_PORT, port 7071)',
  },
  'function-key': {
    type: 'string',
    value: '<key>',
    description: "key for function-level routes (env STRATA_FUNCTION_KEY; default: the local host's)",
  },
  'admin-key': {
    type: 'string',
    value: '<key>',
    description: "key for admin routes (env STRATA_ADMIN_KEY; default: the local host's)",
  },
  json: { type: 'boolean', description: 'print the result as JSON on stdout (notes and progress go to stderr)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

export const EXIT_CODES = 'Exit codes: 0 done, 1 failed (the app refused or the work failed), 2 bad usage.';

function optionLines(options: Record<string, OptionSpec>): string[] {
  const left = Object.entries(options).map(
    ([name, o]) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`,
  );
  const width = Math.max(...left.map((l) => l.length));
  return Object.values(options).map(
    (o, i) => `  ${left[i]!.padEnd(width)}  ${o.description}${o.multiple ? ' (repeatable)' : ''}`,
  );
}

export function usageLine(path: string[], spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) =>
    p.required ? `<${p.name}${p.variadic ? '...' : ''}>` : `[${p.name}${p.variadic ? '...' : ''}]`,
  );
  return ['strata', ...path, ...pos, ...(Object.keys(spec.options ?? {}).length ? ['[options]'] : [])].join(' ');
}

export function commandHelp(path: string[], spec: CommandSpec): string {
  const out: string[] = [];
  if (spec.subcommands?.length) {
    out.push(
      `Usage: strata ${path.join(' ')} <${spec.subcommands.map((s) => s.name).join('|')}> ...`,
      '',
      spec.summary,
    );
    if (spec.description) out.push('', spec.description);
    const w = Math.max(...spec.subcommands.map((s) => s.name.length));
    out.push('', 'Commands:', ...spec.subcommands.map((s) => `  ${s.name.padEnd(w)}  ${s.summary}`));
    out.push(
      '',
      `Run \`strata ${path.join(' ')} <command> --help\` for one of them. Without a command: ${spec.subcommands[0]!.name}.`,
    );
    return out.join('\n');
  }
  out.push(`Usage: ${usageLine(path, spec)}`, '', spec.summary);
  if (spec.description) out.push('', spec.description);
  if (spec.options && Object.keys(spec.options).length) out.push('', 'Options:', ...optionLines(spec.options));
  if (!spec.passthrough) out.push('', 'Common options:', ...optionLines(GLOBAL_OPTIONS));
  if (spec.examples?.length) out.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  out.push('', EXIT_CODES);
  return out.join('\n');
}

export function mainHelp(commands: readonly CommandSpec[], version: string): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    `strata ${version}: the command line of a Strata app (local or deployed)`,
    '',
    'Usage: strata <command> [arguments] [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Common options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    "Run `strata <command> --help` for a command's arguments and options.",
    EXIT_CODES,
  ].join('\n');
}
