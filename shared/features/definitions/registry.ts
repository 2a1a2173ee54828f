/**
 * The feature registry: applied definitions, like `feast apply`, kept in a DefinitionStore
 * (below; shared/azure/definitions-table.ts on Azure Tables, shared/memory/ in memory).
 *
 *   apply(store, repo, { now?, dryRun? })   -> ApplyResult
 *   listDefinitions(store, { kind? })       -> StoredDefinition[]     what is applied now
 *   getDefinition(store, kind, name)        -> StoredDefinition        NotFoundError if never applied
 *   definitionHistory(store, kind, name)    -> StoredDefinition[]      every applied version, oldest first
 *
 * apply compares each definition of the repo with the applied one:
 *   - same version: unchanged, nothing is written (re-applying is a no-op);
 *   - new, or a compatible change (a feature added or removed, an expression, window or TTL changed,
 *     anything upstream changed): recorded as a new version, with notes saying what changed;
 *   - an incompatible change is refused with a ConflictError that says what changed and how to make
 *     it: an entity's join key, a view's entity, a feature's type (stored rows and trained models
 *     read the old meaning), or removing a feature an applied feature service still reads. A join
 *     key, entity or type change goes through when the definition's `revision` is raised (the
 *     change is then marked `breaking`: backfill the view); otherwise use a new name.
 * Nothing is written when anything is refused. Definitions applied before but absent from the repo
 * stay registered (models may still use them) and are listed in `notInRepo`.
 *
 * Two processes applying at once: a lost race on a definition ends in a ConflictError asking
 * to re-run, unless the other process applied the same version (then it is simply unchanged).
 */
import { ConflictError, NotFoundError, type ErrorDetail } from '../../errors';
import type { DefinitionKind, DefinitionRecord, FeatureRepo } from './repo';
import { shortVersion } from './version';

const KIND_WORD: Record<DefinitionKind, string> = {
  entity: 'entity',
  source: 'source',
  view: 'feature view',
  service: 'feature service',
};
/** Error paths name the defineRepo section, as defineRepo's own errors do. */
const SECTION: Record<DefinitionKind, string> = {
  entity: 'entities',
  source: 'sources',
  view: 'views',
  service: 'services',
};

export interface StoredDefinition {
  kind: DefinitionKind;
  name: string;
  version: string;
  definition: Record<string, unknown>;
  description?: string;
  appliedAt: string;
}

export interface DefinitionChange {
  kind: DefinitionKind;
  name: string;
  version: string;
  change: 'created' | 'updated' | 'unchanged';
  previousVersion?: string;
  /** An incompatible change let through by a raised revision: recompute (backfill) what it feeds. */
  breaking?: boolean;
  /** What changed, in words ("feature added: clicks_7d"). */
  notes?: string[];
}

export interface ApplyResult {
  created: number;
  updated: number;
  unchanged: number;
  changes: DefinitionChange[];
  /** Applied earlier, not in this repo: kept. */
  notInRepo: Array<{ kind: DefinitionKind; name: string }>;
  dryRun: boolean;
}

/** An applied definition as read, with the token a change of it must match. */
export type AppliedDefinition = StoredDefinition & { token?: string };

/**
 * Where applied definitions are kept: the current one per (kind, name), and every version ever
 * applied.
 *   current()                 every current definition
 *   get(kind, name)           the current one, or undefined
 *   history(kind, name)       every applied version (any order)
 *   record(d, previous)       add d to the history, then make it current if the current one is
 *                             still `previous` (none, when previous is undefined): 'lost-race'
 *                             when another apply changed it first
 */
export interface DefinitionStore {
  current(): Promise<AppliedDefinition[]>;
  get(kind: DefinitionKind, name: string): Promise<AppliedDefinition | undefined>;
  history(kind: DefinitionKind, name: string): Promise<StoredDefinition[]>;
  record(d: StoredDefinition, previous: AppliedDefinition | undefined): Promise<'recorded' | 'lost-race'>;
}

export async function apply(
  store: DefinitionStore,
  repo: FeatureRepo,
  opts: { now?: number; dryRun?: boolean } = {},
): Promise<ApplyResult> {
  const current = new Map((await store.current()).map((d) => [`${d.kind}:${d.name}`, d]));
  const appliedAt = new Date(opts.now ?? Date.now()).toISOString();
  const defs = repo.definitions();
  const inRepo = new Set(defs.map((d) => `${d.kind}:${d.name}`));

  const changes: DefinitionChange[] = [];
  const conflicts: ErrorDetail[] = [];
  for (const d of defs) {
    const stored = current.get(`${d.kind}:${d.name}`);
    if (!stored) {
      changes.push({ kind: d.kind, name: d.name, version: d.version, change: 'created' });
      continue;
    }
    if (stored.version === d.version) {
      changes.push({ kind: d.kind, name: d.name, version: d.version, change: 'unchanged' });
      continue;
    }
    const check = compare(d, stored);
    conflicts.push(...check.conflicts);
    changes.push({
      kind: d.kind,
      name: d.name,
      version: d.version,
      change: 'updated',
      previousVersion: stored.version,
      ...(check.breaking ? { breaking: true } : {}),
      notes: check.notes,
    });
  }
  conflicts.push(...removedFeaturesStillServed(repo, current, inRepo));
  if (conflicts.length) {
    throw new ConflictError(
      `apply refused: ${conflicts.length} incompatible change${conflicts.length > 1 ? 's' : ''}; nothing was applied.\n${conflicts.map((c) => `  - ${c.where}: ${c.problem}`).join('\n')}`,
      conflicts,
    );
  }

  const notInRepo = [...current.values()]
    .filter((s) => !inRepo.has(`${s.kind}:${s.name}`))
    .map((s) => ({ kind: s.kind, name: s.name }));
  const result: ApplyResult = {
    created: changes.filter((c) => c.change === 'created').length,
    updated: changes.filter((c) => c.change === 'updated').length,
    unchanged: changes.filter((c) => c.change === 'unchanged').length,
    changes,
    notInRepo,
    dryRun: opts.dryRun === true,
  };
  if (opts.dryRun) return result;

  const byKey = new Map(defs.map((d) => [`${d.kind}:${d.name}`, d]));
  for (const c of changes) {
    if (c.change === 'unchanged') continue;
    const d = byKey.get(`${c.kind}:${c.name}`)!;
    const stored = current.get(`${c.kind}:${c.name}`);
    const recorded = await store.record(storedOf(d, appliedAt), stored);
    if (recorded === 'lost-race') {
      // another process applied this definition first: fine if it applied the same version
      const now = await store.get(d.kind, d.name);
      if (now?.version !== d.version) {
        throw new ConflictError(
          `apply: ${KIND_WORD[d.kind]} "${d.name}" was changed by another apply while this one ran (now version ${now ? shortVersion(now.version) : 'none'}); re-run apply to compare against it`,
        );
      }
      c.change = 'unchanged';
      result[stored ? 'updated' : 'created']--;
      result.unchanged++;
    }
  }
  return result;
}

export async function listDefinitions(
  store: DefinitionStore,
  opts: { kind?: DefinitionKind } = {},
): Promise<StoredDefinition[]> {
  const all = (await store.current()).map(withoutToken);
  return opts.kind ? all.filter((d) => d.kind === opts.kind) : all;
}

export async function getDefinition(
  store: DefinitionStore,
  kind: DefinitionKind,
  name: string,
): Promise<StoredDefinition> {
  const found = await store.get(kind, name);
  if (!found)
    throw new NotFoundError(
      `no ${KIND_WORD[kind]} named "${name}" has been applied; apply the repo that defines it first`,
    );
  return withoutToken(found);
}

export async function definitionHistory(
  store: DefinitionStore,
  kind: DefinitionKind,
  name: string,
): Promise<StoredDefinition[]> {
  const out = (await store.history(kind, name)).map((d) => withoutToken(d));
  return out.sort((a, b) => (a.appliedAt < b.appliedAt ? -1 : a.appliedAt > b.appliedAt ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Compatibility

interface Check {
  conflicts: ErrorDetail[];
  notes: string[];
  breaking: boolean;
}

type FeatureDef = {
  type?: string;
  kind?: string;
  code?: string;
  agg?: string;
  field?: string | null;
  window?: unknown;
};

function compare(d: DefinitionRecord, stored: StoredDefinition): Check {
  const now = d.definition as Record<string, any>;
  const was = stored.definition as Record<string, any>;
  const out: Check = { conflicts: [], notes: [], breaking: false };
  const what = `${KIND_WORD[d.kind]} "${d.name}"`;
  const where = `${SECTION[d.kind]}.${d.name}`;
  const revisionRaised =
    typeof now.revision === 'number' && typeof was.revision === 'number' && now.revision > was.revision;
  if (typeof now.revision === 'number' && typeof was.revision === 'number' && now.revision < was.revision) {
    out.conflicts.push({
      where: `${where}.revision`,
      problem: `${what}: revision goes back from ${was.revision} to ${now.revision}; revisions only grow (the applied one is ${was.revision})`,
    });
  }
  const incompatible = (path: string, problem: string, fix: string) => {
    if (revisionRaised) {
      out.breaking = true;
      out.notes.push(`${problem} (accepted: revision ${was.revision} -> ${now.revision}; backfill what it feeds)`);
    } else {
      out.conflicts.push({ where: `${where}.${path}`, problem: `${what}: ${problem}. ${fix}` });
    }
  };

  if (d.kind === 'entity' && now.joinKey !== was.joinKey) {
    incompatible(
      'joinKey',
      `join key changes from "${was.joinKey}" to "${now.joinKey}"`,
      `Stored features are keyed by ${was.joinKey} values, so it cannot change in place. Define a new entity (e.g. "${d.name}_v2") and views for it, or raise the entity's revision (revision: ${(was.revision ?? 1) + 1}) to declare the break and backfill its views`,
    );
  }
  if (d.kind === 'view') {
    if (now.entity?.name !== was.entity?.name) {
      incompatible(
        'entity',
        `entity changes from "${was.entity?.name}" to "${now.entity?.name}"`,
        `Stored rows are keyed by ${was.entity?.name} ids. Define a new view (e.g. "${d.name}_by_${now.entity?.name}"), or raise the view's revision (revision: ${(was.revision ?? 1) + 1}) to declare the break and backfill it`,
      );
    }
    const nowF = (now.features ?? {}) as Record<string, FeatureDef>;
    const wasF = (was.features ?? {}) as Record<string, FeatureDef>;
    for (const [name, f] of Object.entries(nowF)) {
      const old = wasF[name];
      if (!old) {
        out.notes.push(`feature added: ${name}`);
        continue;
      }
      if (old.type !== f.type) {
        incompatible(
          `features.${name}.type`,
          `feature "${name}" changes type from ${old.type} to ${f.type}`,
          `Stored rows and trained models read it as ${old.type}. Add the new type under a new feature name (e.g. "${name}_${f.type}"), or raise the view's revision (revision: ${(was.revision ?? 1) + 1}) to declare the break, then backfill the view`,
        );
      } else if (JSON.stringify(old) !== JSON.stringify(f)) {
        out.notes.push(`feature changed: ${name} (${describeFeatureChange(old, f)})`);
      }
    }
    for (const name of Object.keys(wasF)) if (!(name in nowF)) out.notes.push(`feature removed: ${name}`);
  }
  for (const key of new Set([...Object.keys(now), ...Object.keys(was)])) {
    if (
      (key === 'features' && d.kind === 'view') ||
      key === 'joinKey' ||
      key === 'revision' ||
      (d.kind === 'view' && key === 'entity' && now.entity?.name !== was.entity?.name)
    )
      continue;
    if (JSON.stringify(now[key]) !== JSON.stringify(was[key])) out.notes.push(CHANGE_NOTES[key] ?? `${key} changed`);
  }
  if (revisionRaised && !out.breaking) out.notes.push(`revision ${was.revision} -> ${now.revision}`);
  return out;
}

const CHANGE_NOTES: Record<string, string> = {
  input: 'input changed (its source or an upstream view has a new version)',
  entity: 'entity definition changed',
  views: 'a view it reads has a new version',
  features: 'features changed (list or order)',
  ttlMs: 'ttl changed',
  latenessMs: 'lateness changed',
  schema: 'schema changed',
  eventTime: 'event-time field changed',
  idField: 'id field changed',
  stream: 'stream hub changed',
  file: 'file formats changed',
};

function describeFeatureChange(old: FeatureDef, now: FeatureDef): string {
  if (old.kind !== now.kind) return `${old.kind} -> ${now.kind}`;
  if (now.kind === 'expr') return 'expression';
  const parts: string[] = [];
  if (old.agg !== now.agg) parts.push(`aggregation ${old.agg} -> ${now.agg}`);
  if (old.field !== now.field) parts.push(`field ${old.field} -> ${now.field}`);
  if (JSON.stringify(old.window) !== JSON.stringify(now.window)) parts.push('window');
  return parts.join(', ') || 'definition';
}

/** Applied services that would be left reading a feature this repo removes. */
function removedFeaturesStillServed(
  repo: FeatureRepo,
  current: Map<string, Applied>,
  inRepo: Set<string>,
): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const s of current.values()) {
    if (s.kind !== 'service' || inRepo.has(`service:${s.name}`)) continue; // services in the repo were checked by defineRepo
    for (const ref of (s.definition.features as string[] | undefined) ?? []) {
      const [viewName, feature] = ref.split(':') as [string, string];
      const view = repo.views.get(viewName);
      if (!view || view.features.some((f) => f.name === feature)) continue;
      out.push({
        where: `views.${viewName}.features.${feature}`,
        problem: `feature view "${viewName}": feature "${feature}" is removed, but the applied feature service "${s.name}" (not in this repo) still reads it. Keep the feature, or first apply a version of "${s.name}" without it`,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

type Applied = AppliedDefinition;

function withoutToken({ token: _token, ...d }: Applied): StoredDefinition {
  return d;
}

function storedOf(d: DefinitionRecord, appliedAt: string): StoredDefinition {
  return {
    kind: d.kind,
    name: d.name,
    version: d.version,
    definition: d.definition,
    ...(d.description !== undefined ? { description: d.description } : {}),
    appliedAt,
  };
}
