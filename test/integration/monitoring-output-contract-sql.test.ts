/**
 * The SQL side of output contracts only vouches for values the compiled check accepts: over
 * outputs of every kind, each value SQL passes keeps its contract in JavaScript, and the single
 * numbers the check accepts are exactly those SQL passes (so a window of well-behaved outputs
 * reads nothing back). Both forms: over the output's JSON (contractHoldsSql) and over the
 * number TRY_CAST reads from the JSON text, as the window reads the prediction column
 * (numberKeepsContractSql).
 */
import { describe, expect, it } from 'vitest';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import {
  compileOutputContract,
  contractHoldsSql,
  numberKeepsContractSql,
  OutputContractSchema,
  type OutputContractInput,
} from '../../shared/monitoring/output-contract';

const VALUES = [
  '0.5',
  '0',
  '1',
  '-0.25',
  '1.0000001',
  '2',
  '-3',
  '1e-300',
  '1e400',
  '"0.5"',
  'null',
  'true',
  '[0.2, 0.8]',
  '[0.5]',
  '[]',
  '{"a": 1}',
  '7',
  '3.0',
  '18446744073709551615',
];
const CONTRACTS: OutputContractInput[] = [
  { range: { min: 0, max: 1 } },
  { range: { min: 0 } },
  { shape: [] },
  { classes: [0, 1, 7] },
  { shape: [2], sum: { equals: 1 } },
  {},
];

describe('output contracts in SQL', () => {
  it.each(CONTRACTS)('vouches only for values the check accepts: %j', async (input) => {
    const contract = OutputContractSchema.parse(input);
    const check = compileOutputContract(contract);
    const rows = await withConnection(async (c) =>
      (
        await c.runAndReadAll(
          `SELECT v, ${contractHoldsSql(contract, 'v::JSON')} AS ok, ${numberKeepsContractSql(contract, 'TRY_CAST(v AS DOUBLE)')} AS ok_number
           FROM (VALUES ${VALUES.map((v) => `(${literal(v)})`).join(', ')}) t(v)`,
        )
      ).getRowObjectsJson(),
    );
    expect(rows).toHaveLength(VALUES.length);
    for (const r of rows) {
      const value: unknown = JSON.parse(String(r.v));
      const accepted = check(value) === undefined;
      for (const ok of [r.ok, r.ok_number]) {
        if (ok === true) expect(accepted, `${String(r.v)} passes SQL`).toBe(true);
        if (typeof value === 'number' && accepted && contract.shape?.length !== 1)
          expect(ok, `${String(r.v)} is a number the check accepts`).toBe(true);
      }
    }
  });
});
