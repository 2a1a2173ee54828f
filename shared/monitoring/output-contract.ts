/**
 * Output contracts: what a model version promises about its output, checked on every logged
 * prediction without running the model again. A signature output may declare its JSON shape
 * (a number, or a list of k numbers), a valid range, a closed set of classes, and that a list
 * sums to 1 (class probabilities). A contract is compiled once into a small function; checking
 * a prediction allocates nothing, so it can run over every record of a window.
 *
 * Each prediction counts as at most one violation, the first rule it breaks in the order
 * shape → not_finite → range → class → sum, so the counts add up to the violating predictions.
 */
import { z } from 'zod';

export const OutputContractSchema = z
  .object({
    /** [] = a single number; [k] = a list of exactly k numbers. */
    shape: z.union([z.tuple([]), z.tuple([z.number().int().positive()])]).optional(),
    /** Every number of the output lies within [min, max] (either bound may be absent). */
    range: z.object({ min: z.number().finite().optional(), max: z.number().finite().optional() }).strict().optional(),
    /** Every number of the output is one of these (a classifier's labels). */
    classes: z.array(z.number().finite()).min(1, 'must list at least one class').optional(),
    /** A list output sums to this (1 for probabilities), within `tolerance`. */
    sum: z
      .object({ equals: z.number().finite(), tolerance: z.number().positive().default(1e-6) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.range?.min !== undefined && c.range.max !== undefined && c.range.min > c.range.max)
      ctx.addIssue({
        code: 'custom',
        path: ['range'],
        message: `min (${c.range.min}) is greater than max (${c.range.max})`,
      });
    if (c.sum && c.shape && c.shape.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['sum'],
        message: 'a single-number output has no sum to check; declare shape [k] or drop sum',
      });
  });
export type OutputContract = z.output<typeof OutputContractSchema>;
export type OutputContractInput = z.input<typeof OutputContractSchema>;

export const OUTPUT_VIOLATIONS = ['shape', 'not_finite', 'range', 'class', 'sum'] as const;
export type OutputViolation = (typeof OUTPUT_VIOLATIONS)[number];

/** Returns the first rule `value` breaks, or undefined when it keeps the contract. */
export type OutputCheck = (value: unknown) => OutputViolation | undefined;

export function compileOutputContract(contract: OutputContract): OutputCheck {
  const { shape, range, sum } = contract;
  const min = range?.min ?? -Infinity;
  const max = range?.max ?? Infinity;
  const classes = contract.classes ? new Set(contract.classes) : undefined;
  const badNumber = (x: unknown): OutputViolation | undefined => {
    if (typeof x !== 'number') return 'shape';
    if (!Number.isFinite(x)) return 'not_finite';
    if (x < min || x > max) return 'range';
    if (classes && !classes.has(x)) return 'class';
    return undefined;
  };
  return (value) => {
    if (Array.isArray(value)) {
      if (shape && (shape.length === 0 || value.length !== shape[0])) return 'shape';
      let total = 0;
      for (const x of value) {
        const bad = badNumber(x);
        if (bad) return bad;
        total += x as number;
      }
      if (sum && Math.abs(total - sum.equals) > sum.tolerance) return 'sum';
      return undefined;
    }
    if (shape && shape.length === 1) return 'shape';
    return badNumber(value);
  };
}

/**
 * A SQL condition over an output's JSON text (`json`, e.g. `json_extract(outputs, '$."p"')`)
 * that is true only for values the contract certainly accepts: a single finite number within
 * the range and among the classes. Lists, and a contract that wants a list, are left to the
 * compiled check (the condition is false for them), so it only spares the window from
 * reading into JavaScript the values that cannot violate: the check above stays the verdict.
 */
export function contractHoldsSql(contract: OutputContract, json: string): string {
  return numberKeepsContractSql(
    contract,
    `TRY_CAST(${json} AS DOUBLE)`,
    `json_type(${json}) IN ('DOUBLE', 'BIGINT', 'UBIGINT')`,
  );
}

/**
 * The same condition over `x`, a DOUBLE expression that is the output's value when it is a
 * single number and NULL for anything else: TRY_CAST of JSON text ingest wrote (a list, a
 * string, true or null does not cast), such as the prediction log's `prediction` column, which
 * the window already casts for its score, so the first output's contract costs no JSON parse.
 * `isNumber`, when given, is a further condition that the value is a number.
 */
export function numberKeepsContractSql(contract: OutputContract, x: string, isNumber?: string): string {
  if (contract.shape?.length === 1) return 'false';
  const conds = [...(isNumber ? [isNumber] : []), `isfinite(${x})`];
  if (contract.range?.min !== undefined) conds.push(`${x} >= ${sqlDouble(contract.range.min)}`);
  if (contract.range?.max !== undefined) conds.push(`${x} <= ${sqlDouble(contract.range.max)}`);
  if (contract.classes) conds.push(`${x} IN (${contract.classes.map(sqlDouble).join(', ')})`);
  return `coalesce(${conds.join(' AND ')}, false)`;
}

/** A finite double as an exact SQL DOUBLE (its shortest round-trip text, cast). */
const sqlDouble = (v: number) => `'${String(v)}'::DOUBLE`;

/** Predictions checked and violations by rule; tallies from many instances or windows merge by addition. */
export interface OutputContractTally {
  checked: number;
  violating: number;
  violations: Record<OutputViolation, number>;
}

export function emptyTally(): OutputContractTally {
  return { checked: 0, violating: 0, violations: { shape: 0, not_finite: 0, range: 0, class: 0, sum: 0 } };
}

/** Check each value and count. */
export function tallyOutputs(
  check: OutputCheck,
  values: Iterable<unknown>,
  into: OutputContractTally = emptyTally(),
): OutputContractTally {
  for (const v of values) {
    into.checked++;
    const bad = check(v);
    if (bad) {
      into.violating++;
      into.violations[bad]++;
    }
  }
  return into;
}

export function mergeTallies(a: OutputContractTally, b: OutputContractTally): OutputContractTally {
  const out = emptyTally();
  out.checked = a.checked + b.checked;
  out.violating = a.violating + b.violating;
  for (const k of OUTPUT_VIOLATIONS) out.violations[k] = a.violations[k] + b.violations[k];
  return out;
}
