/**
 * A checked, versioned set of definitions: what every other part of Strata reads.
 *
 *   defineRepo({ entities, sources, views, services }) -> FeatureRepo     throws ValidationError listing every problem
 *   repo.entity(name) | source(name) | view(name) | service(name)         throws NotFoundError with "did you mean"
 *   repo.viewOrder                        view names, inputs before the views that read them
 *   repo.viewsReading(source)             views computed from a source's records (DAG order)
 *   repo.consumers(view)                  views that take a view as input
 *   repo.definitions()                    every definition as { kind, name, version, definition, description }
 *
 * Checks: names, unique names, references (entity, source, input views, service features),
 * fields used by aggregations exist (and are numeric for sum/mean/min/max), derived views share
 * their inputs' entity, and the view DAG has no cycle (the error shows it: `a -> b -> a`).
 *
 * Versions: sha256 of the normalised definition (key order never matters; expression source text is
 * normalised, see fnsource.ts). A view's version covers its entity's and its inputs' versions, and a
 * service's covers its views', so a change anywhere upstream shows as a new version downstream.
 * Descriptions are not part of a version. Only an expression's own text is: a value it captures
 * from outside (a closure variable, an imported constant) is not, so write constants into the
 * expression, or bump the view's revision when such a value changes.
 */
import { z } from 'zod';
import { NotFoundError, ValidationError, type ErrorDetail } from '../../errors';
import type { FeatureColumn, FeatureType } from './values';
import { parseDuration, type Duration } from './duration';
import { normaliseFunctionSource } from './fnsource';
import { versionOf } from './version';
import { didYouMean, known } from '../../suggest';
import { AGGREGATE_FNS, FILE_FORMATS, formatRef, type AggregateFn, type FeatureRef } from './vocabulary';
import type { Entity, Feature, FeatureService, FeatureView, Source, WindowSpec } from './shapes';
import { isName } from '../../names';

export type DefinitionKind = 'entity' | 'source' | 'view' | 'service';

/** Default for how late a record may arrive and still be folded into windows. */
export const DEFAULT_LATENESS_MS = 3_600_000;

/** Names become Redis keys, Table keys and blob paths: the definition name rule of shared/names.ts. */
const NAME = { test: (v: string) => isName('definition', v) };
/** Column names the stores use next to feature columns. */
const RESERVED_FEATURE_NAMES = new Set(['entity_id', 'event_ts', 'created_ts']);
const FEATURE_TYPES: readonly FeatureType[] = ['float', 'int', 'string', 'bool'];

export interface ResolvedEntity {
  kind: 'entity';
  name: string;
  joinKey: string;
  revision: number;
  description?: string;
  version: string;
  definition: Record<string, unknown>;
}

export interface SourceField {
  /** 'unknown' when the schema allows several types (a union) or something not scalar. */
  type: FeatureType | 'unknown';
  optional: boolean;
  /** A record of numbers: stored offline as one column per key (ingest/number-maps.ts). */
  numberMap?: boolean;
}

export interface ResolvedSource {
  kind: 'source';
  name: string;
  schema: z.ZodObject;
  eventTime: string;
  idField?: string;
  /** The join key of the entity the source declares (label sources no view reads). */
  entityKey?: string;
  stream?: { hub: string };
  file?: { formats: readonly string[] };
  fields: Record<string, SourceField>;
  description?: string;
  version: string;
  definition: Record<string, unknown>;
}

export interface ResolvedWindow {
  kind: 'sliding' | 'tumbling';
  sizeMs: number;
  /** sliding only */
  hopMs?: number;
}

export type ResolvedFeature =
  | { kind: 'expr'; name: string; type: FeatureType; compute: (r: any) => unknown; description?: string }
  | {
      kind: 'aggregate';
      name: string;
      type: FeatureType;
      agg: AggregateFn;
      field?: string;
      window: ResolvedWindow;
      description?: string;
    };

export interface ResolvedView {
  kind: 'view';
  name: string;
  entity: string;
  joinKey: string;
  input: { kind: 'source'; source: string } | { kind: 'views'; views: string[] };
  features: ResolvedFeature[];
  /** The view's columns in declared order (what the stores hold). */
  columns: FeatureColumn[];
  ttlMs?: number;
  latenessMs: number;
  /**
   * How much input history before t computing from t needs (transform.ts warm-up): the widest
   * window reach plus the lateness. null for derived views: they need each input's latest row per
   * entity before t, however old (bounded by the inputs' TTLs).
   */
  warmUpMs: number | null;
  revision: number;
  description?: string;
  version: string;
  definition: Record<string, unknown>;
}

export interface ServiceFeature {
  view: string;
  feature: string;
  type: FeatureType;
  /** `view:feature` */
  ref: string;
}

export interface ResolvedService {
  kind: 'service';
  name: string;
  /** In model input order. */
  features: ServiceFeature[];
  /** The views it reads, in first-use order. */
  views: string[];
  description?: string;
  version: string;
  definition: Record<string, unknown>;
}

export interface DefinitionRecord {
  kind: DefinitionKind;
  name: string;
  version: string;
  definition: Record<string, unknown>;
  description?: string;
}

export interface RepoSpec {
  entities?: ReadonlyArray<Entity>;
  sources?: ReadonlyArray<Source<string, any>>;
  views?: ReadonlyArray<FeatureView<string, any>>;
  services?: ReadonlyArray<FeatureService>;
}

export class FeatureRepo {
  constructor(
    readonly entities: ReadonlyMap<string, ResolvedEntity>,
    readonly sources: ReadonlyMap<string, ResolvedSource>,
    readonly views: ReadonlyMap<string, ResolvedView>,
    readonly services: ReadonlyMap<string, ResolvedService>,
    /** View names, every view after its inputs. */
    readonly viewOrder: readonly string[],
  ) {}

  entity(name: string): ResolvedEntity {
    return lookup(this.entities, 'entity', name);
  }
  source(name: string): ResolvedSource {
    return lookup(this.sources, 'source', name);
  }
  view(name: string): ResolvedView {
    return lookup(this.views, 'feature view', name);
  }
  service(name: string): ResolvedService {
    return lookup(this.services, 'feature service', name);
  }

  /** Views computed directly from a source's records, in DAG order. */
  viewsReading(source: string): ResolvedView[] {
    return this.viewOrder
      .map((v) => this.views.get(v)!)
      .filter((v) => v.input.kind === 'source' && v.input.source === source);
  }

  /** Views that take `view` as an input (one level down), in DAG order. */
  consumers(view: string): ResolvedView[] {
    return this.viewOrder
      .map((v) => this.views.get(v)!)
      .filter((v) => v.input.kind === 'views' && v.input.views.includes(view));
  }

  /** Every definition in dependency order (entities, sources, views in DAG order, services). */
  definitions(): DefinitionRecord[] {
    const rec = (
      kind: DefinitionKind,
      d: { name: string; version: string; definition: Record<string, unknown>; description?: string },
    ): DefinitionRecord => ({
      kind,
      name: d.name,
      version: d.version,
      definition: d.definition,
      ...(d.description !== undefined ? { description: d.description } : {}),
    });
    return [
      ...[...this.entities.values()].map((d) => rec('entity', d)),
      ...[...this.sources.values()].map((d) => rec('source', d)),
      ...this.viewOrder.map((v) => rec('view', this.views.get(v)!)),
      ...[...this.services.values()].map((d) => rec('service', d)),
    ];
  }
}

function lookup<T>(map: ReadonlyMap<string, T>, what: string, name: string): T {
  const found = map.get(name);
  if (found) return found;
  throw new NotFoundError(`no ${what} named "${name}"${didYouMean(name, map.keys())}; ${known(map.keys())}`);
}

// ---------------------------------------------------------------------------------------------

/** Check and version a set of definitions. Every problem is reported at once, each with its path. */
export function defineRepo(spec: RepoSpec): FeatureRepo {
  const problems: ErrorDetail[] = [];
  const problem: Problem = Object.assign(
    (where: string, what: string) => void problems.push({ where, problem: what }),
    {
      count: () => problems.length,
    },
  );

  const entitySpecs = uniqueByName(spec.entities ?? [], 'entities', problem);
  const sourceSpecs = uniqueByName(spec.sources ?? [], 'sources', problem);
  const viewSpecs = uniqueByName(spec.views ?? [], 'views', problem);
  const serviceSpecs = uniqueByName(spec.services ?? [], 'services', problem);

  // Entities
  const entities = new Map<string, ResolvedEntity>();
  for (const [name, e] of entitySpecs) {
    const where = `entities.${name}`;
    if (typeof e.joinKey !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.joinKey)) {
      problem(
        `${where}.joinKey`,
        `must be the name of the record field holding the entity id (e.g. "user_id"), got ${JSON.stringify(e.joinKey)}`,
      );
      continue;
    }
    const definition = { kind: 'entity', name, joinKey: e.joinKey, revision: e.revision };
    entities.set(name, {
      kind: 'entity',
      name,
      joinKey: e.joinKey,
      revision: e.revision,
      ...desc(e),
      version: versionOf(definition),
      definition,
    });
  }

  // Sources
  const sources = new Map<string, ResolvedSource>();
  for (const [name, s] of sourceSpecs) {
    const resolved = resolveSource(name, s, problem);
    if (resolved) sources.set(name, resolved);
  }

  // Views: references first, then the DAG (order + cycles), then features and versions in DAG order.
  const inputsOf = new Map<string, { kind: 'source'; source: string } | { kind: 'views'; views: string[] }>();
  const entityOf = new Map<string, string>();
  for (const [name, v] of viewSpecs) {
    const where = `views.${name}`;
    const ent = refName(v.entity, 'entity', entitySpecs, `${where}.entity`, 'entities', problem);
    if (ent !== undefined) entityOf.set(name, ent);
    if (Array.isArray(v.input)) {
      const names: string[] = [];
      if (v.input.length === 0) problem(`${where}.input`, 'a derived view needs at least one input view');
      v.input.forEach((i: FeatureView | string, k: number) => {
        const n = refName(i, 'feature view', viewSpecs, `${where}.input[${k}]`, 'views', problem, sourceSpecs);
        if (n !== undefined) names.push(n);
      });
      inputsOf.set(name, { kind: 'views', views: [...new Set(names)] });
    } else {
      const n = refName(
        v.input as Source | string,
        'source',
        sourceSpecs,
        `${where}.input`,
        'sources',
        problem,
        viewSpecs,
      );
      if (n !== undefined) inputsOf.set(name, { kind: 'source', source: n });
    }
  }
  const order = topologicalViews([...viewSpecs.keys()], (v) => {
    const i = inputsOf.get(v);
    return i?.kind === 'views' ? i.views.filter((x) => viewSpecs.has(x)) : [];
  });
  for (const cycle of order.cycles) {
    problem(
      `views.${cycle[0]}.input`,
      `cycle in the view DAG: ${cycle.join(' -> ')}. A view cannot depend on itself; compute the shared part in an upstream view that both read`,
    );
  }

  const views = new Map<string, ResolvedView>();
  for (const name of order.order) {
    const v = viewSpecs.get(name)!;
    const resolved = resolveView(name, v, inputsOf.get(name), entityOf.get(name), entities, sources, views, problem);
    if (resolved) views.set(name, resolved);
  }

  // Services
  const services = new Map<string, ResolvedService>();
  for (const [name, s] of serviceSpecs) {
    const resolved = resolveService(name, s, viewSpecs, views, problem);
    if (resolved) services.set(name, resolved);
  }

  if (problems.length) {
    throw new ValidationError(
      `The feature definitions have ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n${problems.map((p) => `  - ${p.where}: ${p.problem}`).join('\n')}`,
      problems,
    );
  }
  return new FeatureRepo(entities, sources, views, services, order.order);
}

/** Records one problem; count() tells whether a step added any. */
type Problem = ((where: string, what: string) => void) & { count(): number };

function desc(d: { description?: string | undefined }): { description?: string } {
  return d.description !== undefined ? { description: d.description } : {};
}

function uniqueByName<T extends { name: string; kind: string }>(
  list: ReadonlyArray<T>,
  section: string,
  problem: Problem,
): Map<string, T> {
  const out = new Map<string, T>();
  const singular: Record<string, string> = {
    entities: 'entity',
    sources: 'source',
    views: 'view',
    services: 'service',
  };
  list.forEach((d, i) => {
    const where = `${section}[${i}]`;
    if (!d || typeof d !== 'object' || d.kind !== singular[section]) {
      problem(
        where,
        `expected a ${singular[section]} (made with ${singular[section] === 'view' ? 'featureView' : singular[section] === 'service' ? 'featureService' : singular[section]}({...})), got ${describe(d)}`,
      );
      return;
    }
    if (typeof d.name !== 'string' || !NAME.test(d.name)) {
      problem(
        `${where}.name`,
        `${JSON.stringify(d.name)} is not a valid name: use lower-case letters, digits and _, starting with a letter (e.g. "user_clicks")`,
      );
      return;
    }
    if (out.has(d.name)) {
      problem(`${where}.name`, `"${d.name}" is defined twice in ${section}; names must be unique`);
      return;
    }
    out.set(d.name, d);
  });
  return out;
}

/** Resolve an object-or-name reference; report what is missing and how to fix it. */
function refName<T extends { name: string }>(
  ref: T | string | undefined,
  what: string,
  pool: ReadonlyMap<string, T>,
  where: string,
  section: string,
  problem: Problem,
  otherKind?: ReadonlyMap<string, unknown>,
): string | undefined {
  if (ref === undefined || ref === null) {
    problem(where, `missing: name the ${what} (its object or its name)`);
    return undefined;
  }
  const name = typeof ref === 'string' ? ref : ref.name;
  const listed = pool.get(name);
  if (!listed) {
    if (otherKind?.has(name)) {
      problem(
        where,
        `"${name}" is a ${what === 'source' ? 'feature view' : 'source'}, not a ${what}; ${what === 'source' ? 'a view over other views takes them as a list: input: [view, ...]' : 'a derived view takes feature views only'}`,
      );
    } else if (typeof ref === 'string') {
      problem(where, `no ${what} named "${name}"${didYouMean(name, pool.keys())}; ${known(pool.keys())}`);
    } else {
      problem(where, `${what} "${name}" is not in this repo; add it to ${section}: [...] in defineRepo`);
    }
    return undefined;
  }
  if (typeof ref !== 'string' && listed !== ref) {
    problem(where, `refers to a different ${what} object than the "${name}" listed in ${section}; use the listed one`);
    return undefined;
  }
  return name;
}

function resolveSource(name: string, s: Source<string, any>, problem: Problem): ResolvedSource | undefined {
  const where = `sources.${name}`;
  const before = problem.count();
  const shape = (s.schema as z.ZodObject | undefined)?.shape as Record<string, z.ZodType> | undefined;
  if (!shape || typeof shape !== 'object') {
    problem(`${where}.schema`, 'must be a zod object schema, e.g. z.object({ user_id: z.string(), ts: z.string() })');
    return undefined;
  }
  const fields: Record<string, SourceField> = {};
  for (const [k, f] of Object.entries(shape)) fields[k] = fieldInfo(f);
  const fieldNames = Object.keys(fields);
  if (typeof s.eventTime !== 'string' || !(s.eventTime in fields)) {
    problem(
      `${where}.eventTime`,
      `"${s.eventTime}" is not a field of the schema${didYouMean(String(s.eventTime), fieldNames)}; fields: ${fieldNames.join(', ')}`,
    );
  } else if (fields[s.eventTime]!.optional) {
    problem(
      `${where}.eventTime`,
      `field "${s.eventTime}" is optional in the schema; every record needs its event time, so make it required`,
    );
  }
  if (s.idField !== undefined && !(s.idField in fields)) {
    problem(
      `${where}.id`,
      `"${s.idField}" is not a field of the schema${didYouMean(s.idField, fieldNames)}; fields: ${fieldNames.join(', ')}`,
    );
  }
  if (s.entity !== undefined && !(s.entity.joinKey in fields)) {
    problem(
      `${where}.entity`,
      `entity "${s.entity.name}" is keyed by "${s.entity.joinKey}", but the schema has no such field; fields: ${fieldNames.join(', ')}`,
    );
  } else if (s.entity !== undefined && fields[s.entity.joinKey]!.optional) {
    problem(
      `${where}.entity`,
      `entity key "${s.entity.joinKey}" is optional in the schema; every record needs it, so make it required`,
    );
  }
  if (!s.stream && !s.file) {
    problem(where, 'says neither how records arrive: give stream: { hub: "<event hub>" } and/or file: true');
  }
  if (s.stream && (typeof s.stream.hub !== 'string' || !s.stream.hub.trim())) {
    problem(`${where}.stream.hub`, 'must name the Event Hubs hub the records arrive on');
  }
  for (const f of s.file?.formats ?? []) {
    if (!FILE_FORMATS.includes(f))
      problem(`${where}.file.formats`, `"${f}" is not a supported format; use ${FILE_FORMATS.join(', ')}`);
  }
  if (problem.count() > before) return undefined;
  const definition = {
    kind: 'source',
    name,
    eventTime: s.eventTime,
    idField: s.idField ?? null,
    schema: schemaJson(s.schema),
    stream: s.stream ? { hub: s.stream.hub } : null,
    file: s.file ? { formats: [...s.file.formats].sort() } : null,
    // Only when declared, so the versions of sources without one stay what they were.
    ...(s.entity !== undefined ? { entity: { name: s.entity.name, joinKey: s.entity.joinKey } } : {}),
  };
  return {
    kind: 'source',
    name,
    schema: s.schema,
    eventTime: s.eventTime,
    ...(s.idField !== undefined ? { idField: s.idField } : {}),
    ...(s.entity !== undefined ? { entityKey: s.entity.joinKey } : {}),
    ...(s.stream ? { stream: { hub: s.stream.hub } } : {}),
    ...(s.file ? { file: { formats: s.file.formats } } : {}),
    fields,
    ...desc(s),
    version: versionOf(definition),
    definition,
  };
}

function resolveView(
  name: string,
  v: FeatureView<string, any>,
  input: { kind: 'source'; source: string } | { kind: 'views'; views: string[] } | undefined,
  entityName: string | undefined,
  entities: ReadonlyMap<string, ResolvedEntity>,
  sources: ReadonlyMap<string, ResolvedSource>,
  views: ReadonlyMap<string, ResolvedView>,
  problem: Problem,
): ResolvedView | undefined {
  const where = `views.${name}`;
  const before = problem.count();
  const ent = entityName !== undefined ? entities.get(entityName) : undefined;
  const src = input?.kind === 'source' ? sources.get(input.source) : undefined;
  const upstream = input?.kind === 'views' ? input.views.map((n) => views.get(n)) : [];

  if (ent && src) {
    const key = src.fields[ent.joinKey];
    if (!key) {
      problem(
        `${where}.entity`,
        `entity "${ent.name}" is keyed by "${ent.joinKey}", but source "${src.name}" has no such field; add it to the source schema or use another entity`,
      );
    } else if (key.optional) {
      problem(
        `${where}.entity`,
        `entity key "${ent.joinKey}" is optional in source "${src.name}"; every record needs it, so make it required`,
      );
    }
  }
  if (ent && input?.kind === 'views') {
    input.views.forEach((n, k) => {
      const up = views.get(n);
      if (up && up.entity !== ent.name) {
        problem(
          `${where}.input[${k}]`,
          `view "${n}" is keyed by entity "${up.entity}", not "${ent.name}"; a derived view joins its inputs on the entity, so they must share it`,
        );
      }
    });
  }

  const featureEntries = Object.entries((v.features ?? {}) as Record<string, Feature>);
  if (featureEntries.length === 0) problem(`${where}.features`, 'a view needs at least one feature');
  const features: ResolvedFeature[] = [];
  for (const [fname, f] of featureEntries) {
    const r = resolveFeature(`${where}.features.${fname}`, fname, f, src, input?.kind === 'views', problem);
    if (r) features.push(r);
  }

  const ttlMs = v.ttl !== undefined ? duration(`${where}.ttl`, v.ttl, problem) : undefined;
  const ownLateness = v.lateness !== undefined ? duration(`${where}.lateness`, v.lateness, problem) : undefined;
  if (!Number.isInteger(v.revision) || v.revision < 1)
    problem(`${where}.revision`, `must be a whole number from 1, got ${JSON.stringify(v.revision)}`);

  if (problem.count() > before || !ent || !input || (input.kind === 'source' && !src) || upstream.some((u) => !u))
    return undefined;
  const ups = upstream as ResolvedView[];

  // A derived view must accept whatever its inputs still correct, so it waits at least as long.
  const latenessMs = Math.max(ownLateness ?? (ups.length ? 0 : DEFAULT_LATENESS_MS), ...ups.map((u) => u.latenessMs));
  const reach = Math.max(0, ...features.map((f) => (f.kind === 'aggregate' ? windowReach(f.window) : 0)));
  const definition = {
    kind: 'view',
    name,
    revision: v.revision,
    entity: { name: ent.name, version: ent.version },
    input: src
      ? { source: { name: src.name, version: src.version } }
      : { views: ups.map((u) => ({ name: u.name, version: u.version })).sort((a, b) => (a.name < b.name ? -1 : 1)) },
    ttlMs: ttlMs ?? null,
    latenessMs,
    features: Object.fromEntries(features.map((f) => [f.name, normaliseFeature(f)])),
  };
  return {
    kind: 'view',
    name,
    entity: ent.name,
    joinKey: ent.joinKey,
    input,
    features,
    columns: features.map((f) => ({ name: f.name, type: f.type })),
    ...(ttlMs !== undefined ? { ttlMs } : {}),
    latenessMs,
    warmUpMs: src ? reach + latenessMs : null,
    revision: v.revision,
    ...desc(v),
    version: versionOf(definition),
    definition,
  };
}

/** How far from an event its window effects reach: evaluation lookback and when it stops changing values. */
export function windowReach(w: ResolvedWindow): number {
  return w.kind === 'sliding' ? w.sizeMs + (w.hopMs ?? 0) : 2 * w.sizeMs;
}

function resolveFeature(
  where: string,
  name: string,
  f: Feature,
  src: ResolvedSource | undefined,
  derived: boolean,
  problem: Problem,
): ResolvedFeature | undefined {
  if (!NAME.test(name)) {
    problem(
      where,
      `"${name}" is not a valid feature name: use lower-case letters, digits and _, starting with a letter`,
    );
    return undefined;
  }
  if (RESERVED_FEATURE_NAMES.has(name)) {
    problem(
      where,
      `"${name}" is reserved for the stores' own columns (${[...RESERVED_FEATURE_NAMES].join(', ')}); choose another name`,
    );
    return undefined;
  }
  if (!f || typeof f !== 'object') {
    problem(where, `expected a feature (f.expr(...), f.count(...), ...), got ${describe(f)}`);
    return undefined;
  }
  const d = f.description !== undefined ? { description: f.description } : {};
  if (f.kind === 'expr') {
    if (!FEATURE_TYPES.includes(f.type)) {
      problem(`${where}.type`, `"${f.type}" is not a feature type; use ${FEATURE_TYPES.join(', ')}`);
      return undefined;
    }
    if (typeof f.compute !== 'function') {
      problem(where, 'an expression feature needs a function of the record: f.expr("float", (r) => ...)');
      return undefined;
    }
    return { kind: 'expr', name, type: f.type, compute: f.compute, ...d };
  }
  if (f.kind !== 'aggregate') {
    problem(where, `expected a feature (f.expr(...), f.count(...), ...), got ${describe(f)}`);
    return undefined;
  }
  if (derived) {
    problem(
      where,
      `a derived view computes expressions over its inputs' latest values; aggregate "${f.agg}" over time in the upstream view that reads the source, then use it here`,
    );
    return undefined;
  }
  if (!AGGREGATE_FNS.includes(f.agg)) {
    problem(where, `"${f.agg}" is not an aggregation; use ${AGGREGATE_FNS.join(', ')}`);
    return undefined;
  }
  const window = resolveWindow(`${where}.window`, f.window, problem);
  let type: FeatureType | undefined;
  if (f.agg === 'count') type = 'int';
  else if (f.agg === 'distinct_count') type = 'int';
  if (f.agg !== 'count') {
    if (!src) return undefined; // the view's source is missing or broken, reported there
    if (typeof f.field !== 'string') {
      problem(`${where}.field`, `${f.agg} needs the record field to aggregate`);
      return undefined;
    }
    const field = src.fields[f.field];
    if (!field) {
      const names = Object.keys(src.fields);
      problem(
        `${where}.field`,
        `source "${src.name}" has no field "${f.field}"${didYouMean(f.field, names)}; fields: ${names.join(', ')}`,
      );
      return undefined;
    }
    if (field && ['sum', 'mean', 'min', 'max'].includes(f.agg)) {
      if (field.type !== 'float' && field.type !== 'int') {
        problem(
          `${where}.field`,
          `${f.agg} needs a numeric field, but "${f.field}" of source "${src.name}" is ${field.type === 'unknown' ? 'not known to be a number (make its schema z.number())' : field.type}`,
        );
        return undefined;
      }
      type = 'float';
    }
    if (f.agg === 'last') {
      type = f.type ?? (field.type !== 'unknown' ? field.type : undefined);
      if (!type) {
        problem(
          `${where}.type`,
          `cannot tell the type of field "${f.field}" from the schema; pass it: f.last("${f.field}", window, { type: "string" })`,
        );
        return undefined;
      }
    }
  }
  if (!window || !type) return undefined;
  return {
    kind: 'aggregate',
    name,
    type,
    agg: f.agg,
    ...(f.field !== undefined ? { field: f.field } : {}),
    window,
    ...d,
  };
}

function resolveWindow(where: string, w: WindowSpec | undefined, problem: Problem): ResolvedWindow | undefined {
  if (!w || (w.kind !== 'sliding' && w.kind !== 'tumbling')) {
    problem(where, 'an aggregation needs a window: sliding("1h") or tumbling("1d")');
    return undefined;
  }
  const sizeMs = duration(`${where}.size`, w.size, problem);
  if (sizeMs === undefined) return undefined;
  if (w.hop === undefined) return { kind: w.kind, sizeMs };
  if (w.kind === 'tumbling') {
    problem(
      `${where}.hop`,
      'a tumbling window has no hop (it moves by its size); use sliding(size, { hop }) for a hopping window',
    );
    return undefined;
  }
  const hopMs = duration(`${where}.hop`, w.hop, problem);
  if (hopMs === undefined) return undefined;
  if (hopMs > sizeMs) {
    problem(`${where}.hop`, `hop (${String(w.hop)}) must not be longer than the window (${String(w.size)})`);
    return undefined;
  }
  return { kind: 'sliding', sizeMs, hopMs };
}

function resolveService(
  name: string,
  s: FeatureService,
  viewSpecs: ReadonlyMap<string, FeatureView<string, any>>,
  views: ReadonlyMap<string, ResolvedView>,
  problem: Problem,
): ResolvedService | undefined {
  const where = `services.${name}`;
  const before = problem.count();
  const out: ServiceFeature[] = [];
  const seen = new Set<string>();
  if (!s.features?.length)
    problem(`${where}.features`, 'a feature service needs at least one feature ("view:feature")');
  (s.features ?? []).forEach((ref: string | FeatureRef, i: number) => {
    const at = `${where}.features[${i}]`;
    const parsed = typeof ref === 'string' ? parseRef(ref) : ref;
    if (!parsed) {
      problem(
        at,
        `${JSON.stringify(ref)} is not a feature reference; write "view:feature", e.g. "user_clicks:clicks_1h"`,
      );
      return;
    }
    const text = formatRef(parsed);
    if (!viewSpecs.has(parsed.view)) {
      problem(
        at,
        `no feature view named "${parsed.view}" (in "${text}")${didYouMean(parsed.view, viewSpecs.keys())}; ${known(viewSpecs.keys())}`,
      );
      return;
    }
    const view = views.get(parsed.view);
    if (!view) return; // the view itself is broken and reported
    const feature = view.features.find((f) => f.name === parsed.feature);
    if (!feature) {
      const names = view.features.map((f) => f.name);
      problem(
        at,
        `view "${view.name}" has no feature "${parsed.feature}"${didYouMean(parsed.feature, names)}; its features: ${names.join(', ')}`,
      );
      return;
    }
    if (seen.has(text)) {
      problem(at, `"${text}" is listed twice; a model input appears once`);
      return;
    }
    seen.add(text);
    out.push({ view: view.name, feature: feature.name, type: feature.type, ref: text });
  });
  if (problem.count() > before) return undefined;
  const usedViews = [...new Set(out.map((f) => f.view))];
  const definition = {
    kind: 'service',
    name,
    features: out.map((f) => f.ref),
    views: Object.fromEntries(usedViews.map((v) => [v, views.get(v)!.version])),
  };
  return {
    kind: 'service',
    name,
    features: out,
    views: usedViews,
    ...desc(s),
    version: versionOf(definition),
    definition,
  };
}

/** `view:feature` -> { view, feature }, or undefined when malformed. */
export function parseRef(ref: string): FeatureRef | undefined {
  const m = /^([a-z][a-z0-9_]*):([a-z][a-z0-9_]*)$/.exec(ref.trim());
  return m ? { view: m[1]!, feature: m[2]! } : undefined;
}

function normaliseFeature(f: ResolvedFeature): Record<string, unknown> {
  if (f.kind === 'expr') return { kind: 'expr', type: f.type, code: normaliseFunctionSource(f.compute.toString()) };
  return {
    kind: 'aggregate',
    agg: f.agg,
    type: f.type,
    field: f.field ?? null,
    window: { kind: f.window.kind, sizeMs: f.window.sizeMs, hopMs: f.window.hopMs ?? null },
  };
}

function duration(where: string, d: Duration, problem: Problem): number | undefined {
  try {
    return parseDuration(d);
  } catch (e) {
    problem(where, (e as Error).message);
    return undefined;
  }
}

// Kahn's algorithm (declaration order breaks ties, so the order is stable), then a DFS over what is
// left to name each cycle as a path.
function topologicalViews(names: string[], inputs: (v: string) => string[]): { order: string[]; cycles: string[][] } {
  const indegree = new Map(names.map((n) => [n, inputs(n).length]));
  const consumers = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const n of names) for (const i of inputs(n)) consumers.get(i)!.push(n);
  const ready = names.filter((n) => indegree.get(n) === 0);
  const order: string[] = [];
  while (ready.length) {
    const n = ready.shift()!;
    order.push(n);
    for (const c of consumers.get(n)!) {
      const d = indegree.get(c)! - 1;
      indegree.set(c, d);
      if (d === 0) ready.push(c);
    }
  }
  const left = new Set(names.filter((n) => !order.includes(n)));
  const cycles: string[][] = [];
  const done = new Set<string>();
  for (const start of left) {
    if (done.has(start)) continue;
    const stack: string[] = [];
    const onStack = new Set<string>();
    const visit = (n: string): boolean => {
      stack.push(n);
      onStack.add(n);
      for (const i of inputs(n)) {
        if (!left.has(i) || done.has(i)) continue;
        if (onStack.has(i)) {
          // report in reading order: the view, then the view it reads, ... back to the view
          const cycle = stack.slice(stack.indexOf(i));
          cycles.push([...cycle, i]);
          return true;
        }
        if (visit(i)) return true;
      }
      stack.pop();
      onStack.delete(n);
      return false;
    };
    visit(start);
    for (const n of stack) done.add(n);
    done.add(start);
  }
  return { order, cycles };
}

function fieldInfo(f: z.ZodType): SourceField {
  const optional = f.safeParse(undefined).success;
  let type: SourceField['type'] = 'unknown';
  let numberMap = false;
  try {
    const js = z.toJSONSchema(f, { unrepresentable: 'any', io: 'output' }) as {
      type?: string | string[];
      properties?: unknown;
      additionalProperties?: { type?: unknown };
    };
    const types = (Array.isArray(js.type) ? js.type : js.type ? [js.type] : []).filter((t) => t !== 'null');
    numberMap =
      types.length === 1 && types[0] === 'object' && !js.properties && js.additionalProperties?.type === 'number';
    if (types.length === 1) {
      type =
        ({ integer: 'int', number: 'float', string: 'string', boolean: 'bool' } as Record<string, FeatureType>)[
          types[0]!
        ] ?? 'unknown';
    }
  } catch {
    // a schema JSON Schema cannot express: the field's type stays unknown
  }
  return numberMap ? { type, optional, numberMap } : { type, optional };
}

function schemaJson(schema: z.ZodObject): unknown {
  try {
    const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as Record<
      string,
      unknown
    >;
    return rest;
  } catch {
    return Object.fromEntries(Object.entries(schema.shape).map(([k, f]) => [k, (f as z.ZodType).def.type]));
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object with kind ${JSON.stringify((v as { kind?: unknown }).kind)}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}
