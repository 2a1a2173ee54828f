import { describe, expect, it } from 'vitest';
import { checkBlobPath, checkName, isName, nameSchema, type NameKind } from '../../shared/names';
import { own, recordOf } from '../../shared/own';
import { ValidationError, publicText } from '../../shared/errors';

describe('one name rule per kind', () => {
  const cases: Array<[NameKind, string[], string[]]> = [
    [
      'hub',
      ['clicks', 'a', 'my.hub_2-x', 'A'.repeat(256)],
      ['', '..%2F..%2Fuploads', '../../uploads/x', '\u0000', '-lead', 'trail-', 'sp ace', 'A'.repeat(257)],
    ],
    [
      'model',
      ['churn', 'constructor', 'm.v2-x_1', 'x'.repeat(100)],
      ['', '__proto__', '.hidden', 'a/b', 'x'.repeat(101), 'ü'],
    ],
    [
      'alias',
      ['production', 'canary', 'shadow-xgb', 'constructor'],
      ['Production', '1st', '__proto__', 'a'.repeat(41), 'a b'],
    ],
    ['definition', ['user_clicks', 'constructor', 'a'], ['User', '_x', 'a-b', 'src.clicks', 'a'.repeat(129)]],
    ['storedView', ['user_clicks', 'src.clicks'], ['.x', '-x', 'a/b', '']],
    ['trainingSet', ['set-1.v2', 'abc'], ['', '.x', 'a/b', 'a'.repeat(129)]],
    [
      'instanceId',
      ['backfill-3f2a', 'with space', 'ünïcode', 'x'.repeat(256)],
      ['', '/', 'a/b', 'a\\b', 'a#b', 'a?b', 'a\u0000b', 'x'.repeat(257)],
    ],
    ['segmentId', ['0123456789abcdef0123456789abcdef'], ['0123456789ABCDEF0123456789ABCDEF', '%ff', 'abc']],
    ['entityId', ['u1', 'user@example.com', 'x'.repeat(512)], ['', 'x'.repeat(513), 'a\nb']],
  ];
  for (const [kind, good, bad] of cases) {
    it(`${kind}: accepts ${good.length} and refuses ${bad.length} examples`, () => {
      for (const g of good) expect(isName(kind, g), JSON.stringify(g)).toBe(true);
      for (const b of bad) expect(isName(kind, b), JSON.stringify(b)).toBe(false);
    });
  }

  it('a refused name is a ValidationError naming the field, the value (escaped) and the rule', () => {
    const e = (() => {
      try {
        checkName('hub', 'a\u0000', 'hub');
      } catch (err) {
        return err as ValidationError;
      }
      throw new Error('accepted');
    })();
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.details).toEqual([
      { where: 'hub', problem: expect.stringContaining('"a\\u0000" is not a valid event hub name: use 1-256') },
    ]);
  });

  it('the zod schema applies the same rule', () => {
    expect(nameSchema('alias').safeParse('canary').success).toBe(true);
    const r = nameSchema('alias').safeParse('Canary');
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/lower-case letter/);
    expect(nameSchema('alias').safeParse(7).success).toBe(false);
  });
});

describe('client-given blob paths stay in their containers', () => {
  const allowed = ['spines', 'uploads', 'training-sets'];
  it('splits an allowed path into container and name', () => {
    expect(checkBlobPath('spines/run1/spine.parquet', allowed, 'spine.blobPath')).toEqual({
      container: 'spines',
      name: 'run1/spine.parquet',
    });
  });
  it('refuses other containers, dot segments, empty segments, backslashes and control characters', () => {
    for (const p of [
      'models/churn/../../x.csv',
      'created-by-function-key/x.parquet',
      'spines/../models/x.csv',
      'spines/./x.csv',
      'spines//x.csv',
      'spines/',
      'spines',
      'spines/a\\b.csv',
      'spines/a\u0000.csv',
      `spines/${'x'.repeat(1100)}`,
    ]) {
      expect(() => checkBlobPath(p, allowed, 'spine.blobPath'), p).toThrow(ValidationError);
    }
  });
});

describe('own lookups', () => {
  it('prototype names find nothing in a plain object', () => {
    const aliases: Record<string, number> = { production: 1 };
    expect(own(aliases, 'constructor')).toBeUndefined();
    expect(own(aliases, '__proto__')).toBeUndefined();
    expect(own(aliases, 'toString')).toBeUndefined();
    expect(own(aliases, 'production')).toBe(1);
    expect(own({ ...aliases, constructor: 2 }, 'constructor')).toBe(2);
  });
  it('recordOf keeps __proto__ as an ordinary key', () => {
    const r = recordOf([
      ['__proto__', 'x'],
      ['a', 'y'],
    ]);
    expect(Object.keys(r)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
  });
});

describe('public error text', () => {
  it('drops temp paths and the SQL DuckDB appends', () => {
    const t = publicText(
      "Parquet file cannot be read: Invalid Input Error: Footer length error in file '/tmp/strata-upload-fe4a.parquet'\n\nLINE 1: SELECT * FROM read_parquet('/tmp/strata-upload-fe4a...\n     ^",
    );
    expect(t).toBe("Parquet file cannot be read: Invalid Input Error: Footer length error in file '<file>'");
  });
  it('drops service addresses', () => {
    expect(publicText('Redis at redis://127.0.0.1:6380: could not write: connect ECONNREFUSED 127.0.0.1:6380')).toBe(
      'Redis at <address>: could not write: connect ECONNREFUSED <address>',
    );
  });
  it('leaves ordinary messages alone (times, positions, field names)', () => {
    const m = 'field "ts": expected an ISO-8601 time, got string "12:30" at clicks.csv line 3 (2026-01-01T10:00:00Z)';
    expect(publicText(m)).toBe(m);
  });
});
