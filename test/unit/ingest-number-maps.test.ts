/**
 * Number-map fields (a record of numbers, like the prediction log's `features`) are stored as
 * one column per key: the layout of a batch, a record flattened into it, and read back.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRepo, source } from '../../shared/features/definitions/language';
import { flattenMap, gatherMap, mapLayout } from '../../shared/features/ingest/number-maps';
import { sourceLayout, validRecordOf } from '../../shared/features/ingest/service';
import type { FeatureValue } from '../../shared/features/definitions/values';

const log = source({
  name: 'log',
  schema: z.object({
    id: z.string(),
    ts: z.number(),
    features: z.record(z.string(), z.number()),
    ages: z.record(z.string(), z.number()).optional(),
    outputs: z.record(z.string(), z.union([z.number(), z.array(z.number())])),
  }),
  eventTime: 'ts',
  id: 'id',
  file: true,
});
const repo = defineRepo({ entities: [], sources: [log], views: [], services: [] });
const resolved = repo.source('log');

describe('number-map fields', () => {
  it('are recognised from the schema (a record of numbers only)', () => {
    expect(resolved.fields.features!.numberMap).toBe(true);
    expect(resolved.fields.ages!.numberMap).toBe(true);
    expect(resolved.fields.outputs!.numberMap).toBeUndefined();
  });

  it("get a float column per key of the batch, first seen first; a key colliding in case stays in the field's JSON", () => {
    const records = [
      { data: { features: { 'v:b': 1, 'v:a': 2 } } },
      { data: { features: { 'v:a': 3, 'V:A': 4 }, ages: { 'v:a': 10 } } },
    ];
    const layout = sourceLayout(resolved, records);
    expect(layout.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'string'],
      ['ts', 'float'],
      ['features', 'string'],
      ['ages', 'string'],
      ['outputs', 'string'],
      ['features.v:b', 'float'],
      ['features.v:a', 'float'],
      ['ages.v:a', 'float'],
    ]);
    const keys = mapLayout(resolved, records).keyColumns.get('features')!;
    const values: Record<string, FeatureValue> = {};
    expect(flattenMap({ 'v:a': 3, 'V:A': 4 }, keys, values)).toBe('{"V:A":4}');
    expect(values).toEqual({ 'features.v:a': 3 });
    expect(gatherMap('features', { ...values, 'features.v:b': null }, { 'V:A': 4 })).toEqual({ 'v:a': 3, 'V:A': 4 });
    expect(flattenMap({ 'v:b': 1 }, keys, {})).toBeNull();
  });

  it('read back as the record ingest took (a key a segment lacks is absent, not null)', () => {
    const row = {
      entityId: '',
      eventTs: 5,
      createdTs: 6,
      values: {
        id: 'r1',
        ts: 5,
        features: null,
        ages: null,
        outputs: '{"p":[0.2,0.8]}',
        'features.v:a': 2,
        'features.v:b': null,
        'ages.v:a': 40,
      },
    };
    expect(validRecordOf(resolved, row).data).toEqual({
      id: 'r1',
      ts: 5,
      features: { 'v:a': 2 },
      ages: { 'v:a': 40 },
      outputs: { p: [0.2, 0.8] },
    });
  });
});
