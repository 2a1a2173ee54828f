/**
 * The CLI's pure parts: option values (times, rates, shares), byte ranges of the training-set
 * download, the pacer's arithmetic, progress lines without a terminal, help made from the
 * specs, and where generated labels go (only to a label source the repo defines, in its shape).
 */
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import { parseRate, parseShare, parseTime } from '../../cli/core/values';
import { UsageError } from '../../cli/core/errors';
import { Output, table } from '../../cli/core/output';
import { startProgress } from '../../cli/core/progress';
import { commandHelp } from '../../cli/core/help';
import { COMMANDS } from '../../cli/commands';
import { main } from '../../cli/main';
import { dueRecords } from '../../cli/produce/sender';
import { labelTarget } from '../../cli/produce/labels';
import { parseRange, RangeNotSatisfiableError } from '../../shared/features/pit/download';
import { ValidationError } from '../../shared/errors';
import { churnRepoSpec } from '../../shared/definitions/churn';
import { defineRepo, source } from '../../shared/features/definitions/language';

const NOW = Date.parse('2026-12-01T12:00:00Z');

describe('option values', () => {
  it('times: dates, ISO times, epoch ms, now and now-/+durations', () => {
    expect(parseTime('2026-11-02', 'from')).toBe(Date.parse('2026-11-02T00:00:00Z'));
    expect(parseTime('2026-11-02T12:30:00Z', 'from')).toBe(Date.parse('2026-11-02T12:30:00Z'));
    expect(parseTime('1793577600000', 'from')).toBe(1793577600000);
    expect(parseTime('now', 'to', NOW)).toBe(NOW);
    expect(parseTime('now-2d', 'to', NOW)).toBe(NOW - 2 * 86_400_000);
    expect(parseTime('now+1h30m', 'to', NOW)).toBe(NOW + 5_400_000);
    expect(() => parseTime('yesterday', 'from')).toThrow(UsageError);
    expect(() => parseTime('yesterday', 'from')).toThrow(/--from must be a time/);
    expect(() => parseTime('now-2x', 'to')).toThrow(/--to: expected a duration/);
  });

  it('rates per second from /s, /m, /h or a bare number; shares as fractions or percentages', () => {
    expect(parseRate('2000/s', 'rate')).toBe(2000);
    expect(parseRate('500', 'rate')).toBe(500);
    expect(parseRate('60000/m', 'rate')).toBe(1000);
    expect(parseRate('1e6/h', 'rate')).toBeCloseTo(277.78, 2);
    expect(() => parseRate('0/s', 'rate')).toThrow(/--rate must be a rate/);
    expect(() => parseRate('fast', 'rate')).toThrow(UsageError);
    expect(parseShare('0.02', 'late')).toBe(0.02);
    expect(parseShare('2%', 'late')).toBe(0.02);
    expect(() => parseShare('1.5', 'late')).toThrow(/between 0 and 1/);
    expect(() => parseShare('', 'late')).toThrow(UsageError);
  });
});

describe('byte ranges of a download', () => {
  const size = 1000;
  it('first-last, open-ended and suffix ranges, clipped to the file and to the most one answer carries', () => {
    expect(parseRange(undefined, size, 100)).toBeUndefined();
    expect(parseRange('', size, 100)).toBeUndefined();
    expect(parseRange('bytes=0-9', size, 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=990-5000', size, 100)).toEqual({ start: 990, end: 999 });
    expect(parseRange('bytes=500-', size, 100)).toEqual({ start: 500, end: 599 });
    expect(parseRange('bytes=500-', size, 10_000)).toEqual({ start: 500, end: 999 });
    expect(parseRange('bytes=-10', size, 100)).toEqual({ start: 990, end: 999 });
    expect(parseRange('bytes=-5000', size, 10_000)).toEqual({ start: 0, end: 999 });
  });

  it('refuses what cannot be served: past the end (416 with the size), reversed, several, other units', () => {
    expect(() => parseRange('bytes=1000-', size, 100)).toThrow(RangeNotSatisfiableError);
    try {
      parseRange('bytes=1000-1001', size, 100);
    } catch (e) {
      expect((e as RangeNotSatisfiableError).status).toBe(416);
      expect((e as RangeNotSatisfiableError).size).toBe(1000);
    }
    for (const [h, problem] of [
      ['bytes=9-2', /last byte comes before the first/],
      ['bytes=0-1,4-5', /one range per request/],
      ['items=0-1', /use bytes=/],
      ['bytes=-0', /length above 0/],
    ] as const) {
      expect(() => parseRange(h, size, 100), h).toThrow(ValidationError);
      expect(() => parseRange(h, size, 100), h).toThrow(problem);
    }
  });
});

describe('pacing', () => {
  it('hands out rate x elapsed records in total, never negative', () => {
    expect(dueRecords(2000, 0, 0)).toBe(0);
    expect(dueRecords(2000, 250, 0)).toBe(500);
    expect(dueRecords(2000, 250, 400)).toBe(100);
    expect(dueRecords(2000, 250, 700)).toBe(0);
    expect(dueRecords(3, 1000, 0)).toBe(3);
    expect(dueRecords(0.5, 3000, 1)).toBe(0);
  });
});

function capture(json = false): { out: Output; text: () => string; stdout: () => string } {
  const err = new PassThrough();
  const std = new PassThrough();
  let text = '';
  let stdout = '';
  err.on('data', (d) => (text += d));
  std.on('data', (d) => {
    text += d;
    stdout += d;
  });
  return { out: new Output(json, std, err), text: () => text, stdout: () => stdout };
}

describe('progress without a terminal', () => {
  it('prints a plain line at most every few seconds with rate and ETA, and one final line', () => {
    let now = 0;
    const { out, text } = capture();
    const p = startProgress(out, { title: 'produce', total: 1000, unit: 'events', everyMs: 2000 }, () => now);
    now = 1000;
    p.update(100);
    now = 1500;
    p.update(150);
    now = 2500;
    p.update(250);
    now = 10_000;
    p.update(1000);
    p.stop();
    p.stop();
    expect(text().trim().split('\n')).toEqual([
      // The first line after 2 s: 250 in 2.5 s is 100/s; 750 to go at that pace is 7.5 s.
      'produce: 250/1,000 events (25%), 100 events/s, ETA 8s, 3s elapsed',
      'produce: 1,000/1,000 events (100%), 100 events/s, 10s elapsed',
    ]);
  });

  it('sizes in bytes', () => {
    let now = 0;
    const { out, text } = capture();
    const p = startProgress(out, { title: 'upload', total: 4 * 1024 * 1024, unit: 'bytes' }, () => now);
    now = 2000;
    p.update(2 * 1024 * 1024);
    p.stop();
    expect(text().trim()).toBe('upload: 2.0 MiB/4.0 MiB (50%), 1.0 MiB/s, ETA 2s, 2s elapsed');
  });
});

describe('help', () => {
  it('lists every option of every command, with the common ones and the exit codes', () => {
    for (const c of COMMANDS) {
      for (const spec of c.subcommands ?? [c]) {
        const path = c.subcommands ? [c.name, spec.name] : [c.name];
        const help = commandHelp(path, spec);
        expect(help).toContain(`Usage: strata ${path.join(' ')}`);
        for (const name of Object.keys(spec.options ?? {}))
          expect(help, `${path.join(' ')} --${name}`).toContain(`--${name}`);
        if (!spec.passthrough) expect(help).toContain('--json');
        expect(help).toContain('Exit codes: 0 done, 1 failed');
      }
    }
  });

  it('every command and subcommand answers --help with its usage, exit 0', async () => {
    const names = COMMANDS.flatMap((c) =>
      c.subcommands ? [[c.name], ...c.subcommands.map((s) => [c.name, s.name])] : [[c.name]],
    );
    for (const name of names) {
      const { out, stdout } = capture();
      expect(await main([...name, '--help'], out), name.join(' ')).toBe(0);
      expect(stdout()).toContain(`Usage: strata ${name.join(' ')}`);
    }
    const { out, stdout } = capture();
    expect(await main(['--help'], out)).toBe(0);
    for (const c of COMMANDS) expect(stdout()).toContain(`  ${c.name} `);
  });

  it('bad usage exits 2 naming the problem, before anything is sent', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage: strata <command>/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['models', 'frob'], /unknown command "models frob"; commands: list, show/],
      [['plan', '--bogus'], /Unknown option '--bogus'/],
      [['backfill'], /missing <views>/],
      [['predict', 'churn'], /missing <entity...>/],
      [['features', 'u1', 'u2', '--service', 's', '--view', 'v'], /give either --service or --view/],
      [['backfill', 'user_clicks', '--from', 'yesterday', '--to', 'now'], /--from must be a time/],
      [['produce', '--rate', 'fast'], /--rate must be a rate such as 2000\/s/],
      [['produce', '--drift', 'spend=shift:1'], /"spend" cannot drift/],
      [['produce', '--to', 'now+1d'], /--to is in the future/],
      [['models', 'traffic', 'churn', '--canary', '120'], /--canary must be a number >= 0 <= 100/],
      [['models', 'alias', 'churn', 'canary', 'four'], /version must be a version number \(4 or v4\) or none/],
      [
        ['training-set', '--service', 'churn_v1', '--spine', 'nope.csv', '--out', 'x.txt'],
        /cannot tell the format of --out x.txt/,
      ],
      [['upload', 'clicks', 'no-such-file.csv'], /cannot read file no-such-file.csv: no such file/],
    ];
    for (const [args, message] of cases) {
      const { out, text } = capture();
      // An address nothing listens on: a case that reached the network would fail with 1, not 2.
      const saved = process.env.STRATA_URL;
      process.env.STRATA_URL = 'http://127.0.0.1:9';
      try {
        expect(await main(args, out), args.join(' ')).toBe(2);
      } finally {
        if (saved === undefined) delete process.env.STRATA_URL;
        else process.env.STRATA_URL = saved;
      }
      expect(text()).toMatch(message);
    }
  });

  it('--json errors are one JSON value on stdout as well as a line on stderr', async () => {
    const { out, stdout, text } = capture(true);
    expect(await main(['backfill', '--json'], out)).toBe(2);
    expect(JSON.parse(stdout())).toEqual({ ok: false, error: 'missing <views>', usage: true });
    expect(text()).toContain('strata backfill: missing <views>');
  });

  it('tables align their columns', () => {
    expect(
      table(
        [
          { a: 'x', n: 1 },
          { a: 'longer', n: 22 },
        ],
        [
          { title: 'name', value: (r) => r.a },
          { title: 'n', value: (r) => r.n, align: 'right' },
        ],
      ),
    ).toEqual(['name     n', 'x        1', 'longer  22']);
  });
});

describe('where labels go', () => {
  // The sample repo without its own label source, so each case declares the one it is about.
  const unlabelled = { ...churnRepoSpec, sources: churnRepoSpec.sources.filter((s) => s.name !== 'churn_labels') };
  const withLabels = (schema: z.ZodObject, stream = true) =>
    defineRepo({
      ...unlabelled,
      sources: [
        ...unlabelled.sources,
        source({
          name: 'churn_labels',
          schema,
          eventTime: 'ts',
          ...(stream ? { stream: { hub: 'churn-labels' } } : { file: true }),
        } as never),
      ],
    });

  it('nowhere when the repo has no label source', () => {
    expect(labelTarget(defineRepo(unlabelled), 'churn_labels')).toBeUndefined();
    expect(
      labelTarget(defineRepo(churnRepoSpec), 'churn_labels')!.toRecord({ entityId: 'u1', ts: 0, label: 1 }),
    ).toEqual({ user_id: 'u1', ts: '1970-01-01T00:00:00.000Z', churned: true });
  });

  it("to the label source's hub, in its field names: a number label as 0/1, a boolean one as true/false, ISO or epoch times", () => {
    const numeric = labelTarget(
      withLabels(z.object({ user_id: z.string(), ts: z.string(), churned: z.number().int() })),
      'churn_labels',
    )!;
    expect(numeric.hub).toBe('churn-labels');
    expect(numeric.toRecord({ entityId: 'u000007', ts: Date.parse('2026-11-03T00:00:00Z'), label: 1 })).toEqual({
      user_id: 'u000007',
      ts: '2026-11-03T00:00:00.000Z',
      churned: 1,
    });
    const bool = labelTarget(
      withLabels(z.object({ user_id: z.string(), ts: z.number(), label: z.boolean(), note: z.string().optional() })),
      'churn_labels',
    )!;
    expect(bool.toRecord({ entityId: 'u1', ts: 5, label: 0 })).toEqual({ user_id: 'u1', ts: 5, label: false });
  });

  it('refuses a label source generated labels cannot fill, saying why', () => {
    expect(() =>
      labelTarget(
        withLabels(z.object({ user_id: z.string(), ts: z.string(), churned: z.number() }), false),
        'churn_labels',
      ),
    ).toThrow(/no stream hub/);
    expect(() =>
      labelTarget(withLabels(z.object({ account: z.string(), ts: z.string(), churned: z.number() })), 'churn_labels'),
    ).toThrow(/no field user_id/);
    expect(() =>
      labelTarget(
        withLabels(z.object({ user_id: z.string(), ts: z.string(), a: z.number(), b: z.number() })),
        'churn_labels',
      ),
    ).toThrow(/exactly one required boolean or number field/);
    expect(() =>
      labelTarget(
        withLabels(z.object({ user_id: z.string(), ts: z.string(), churned: z.number().min(5) })),
        'churn_labels',
      ),
    ).toThrow(/refuses a generated label/);
  });
});
