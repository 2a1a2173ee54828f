/**
 * A/B rounds on a shared machine: absolute figures move with the neighbours' load, so compared
 * variants run in alternating rounds (A B, B A, ...) in one process and are reported as medians
 * with min-max, beside the load average and Node version they were measured at.
 *
 *   spread([3, 1, 2])            -> { median: 2, min: 1, max: 3 }
 *   machine()                    -> { node, cores, loadAverage }
 *   target('>=', 50_000, 61_000) -> { target: '>= 50000', met: true }
 */
import os from 'node:os';

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function spread(xs: readonly number[], digits = 2): Spread {
  const r = (x: number) => Math.round(x * 10 ** digits) / 10 ** digits;
  return { median: r(median(xs)), min: r(Math.min(...xs)), max: r(Math.max(...xs)) };
}

export function machine(): { node: string; cores: number; loadAverage: number[] } {
  return {
    node: process.version,
    cores: os.availableParallelism(),
    loadAverage: os.loadavg().map((x) => Math.round(x * 10) / 10),
  };
}

export function target(op: '>=' | '<=', goal: number, value: number): { target: string; met: boolean } {
  return { target: `${op} ${goal}`, met: op === '>=' ? value >= goal : value <= goal };
}
