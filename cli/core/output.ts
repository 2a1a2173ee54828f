/**
 * Where a command's output goes: its result on stdout (JSON with --json, for scripts; lines
 * for people otherwise) and notes and progress on stderr, so `strata x --json | jq` always
 * reads exactly one JSON value.
 */
export interface Column<R> {
  title: string;
  value: (row: R) => unknown;
  align?: 'left' | 'right';
}

export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream | NodeJS.WritableStream = process.stderr,
  ) {}

  /** Whether people watch stderr live (progress bars) rather than a log. */
  get interactive(): boolean {
    return (this.stderr as NodeJS.WriteStream).isTTY === true;
  }

  get errorStream(): NodeJS.WritableStream {
    return this.stderr;
  }

  /** The command's result: `value` as JSON with --json, else the lines `human` gives. */
  result(value: unknown, human: () => string | string[]): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else {
      const lines = human();
      this.stdout.write(`${Array.isArray(lines) ? lines.join('\n') : lines}\n`);
    }
  }

  /** Text on stdout as it is (help, versions). */
  print(text: string): void {
    this.stdout.write(`${text}\n`);
  }

  /** A line for people (stderr). */
  note(line: string): void {
    this.stderr.write(`${line}\n`);
  }
}

/** Rows as aligned text columns. */
export function table<R>(rows: readonly R[], columns: ReadonlyArray<Column<R>>): string[] {
  const cells = rows.map((r) => columns.map((c) => text(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]!.align === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...cells.map(line)];
}

function text(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}
