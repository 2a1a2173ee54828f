/**
 * Version keys on lineage records: set them where they are missing, by walking lineage, or
 * plainly. The records:
 *   - segments: the manifest row's lineage `params` (a small map of name -> string | number |
 *     boolean; e.g. `code_version`, `definition_version`, `loader`). Each committed segment's
 *     view and definition version are columns and always known; parameters a writer did not
 *     record (older code, other loaders) are what these fill in. The blob's own metadata keeps
 *     the lineage as first committed (it only serves crash recovery), the manifest is the record.
 *   - training sets: the JSON record beside each set: `views[].version` (the definition version
 *     each view was read at; records from before versions were tracked lack it) and an optional
 *     `params` map.
 *
 *   inferVersions(deps, rules, { dryRun })
 *     For each record a rule selects that lacks `param`, walk its lineage upwards (what it was
 *     made from: input segments, the segments a training set read, ...) to the nearest records
 *     that have it; when they agree on one value, set it. A training set's view `version` comes
 *     from the segments it read of that view. Conflicts and dead ends are skipped, with why.
 *   updateVersion(deps, where, set, { dryRun })
 *     Set `set` on every record `where` selects (a training set's `version` key sets the version
 *     of `where.view`).
 * Both change a record only if it is unchanged since read (ETag), and report how many records
 * were updated and skipped, with the reasons. dryRun reports the same without writing.
 */
import type { FeatureRepo } from '../definitions/repo';
import type { OfflineStore } from '../offline/store';
import type { ManifestEntry } from '../offline/manifest';
import type { TrainingSetStore } from '../pit/training-set-store';
import { Lineage, segmentNode, trainingSetNode, type LineageNode, type TrainingSetRecord } from './lineage';
import { ValidationError } from '../../errors';
import { own } from '../../own';

type Scalar = string | number | boolean;

export interface RecordWhere {
  kind: 'segment' | 'training-set';
  /** Segments of this view (a source's own records: `src.<source>`); training sets that read it. */
  view?: string;
  /** With view: that definition version. */
  version?: string;
  /** Segments' event days / training sets' build days, yyyy-mm-dd, inclusive. */
  fromDay?: string;
  toDay?: string;
  /** The job that wrote the record. */
  jobId?: string;
  /** Segment ids / training-set ids. */
  ids?: string[];
  /** Parameter conditions: equal to the value, or null for "not set". */
  params?: Record<string, Scalar | null>;
  /** Segments compacted away are history; include them. */
  includeSuperseded?: boolean;
}

export interface VersionRule {
  where: RecordWhere;
  /** The parameter (segments: a lineage param; training sets: `version` or a params key). */
  param: string;
  /** How many lineage steps up to look (default 5). */
  maxDepth?: number;
}

export interface RecordChange {
  id: string;
  action: 'updated' | 'skipped';
  /** What was (or would be) set. */
  set?: Record<string, Scalar>;
  reason?: string;
}

export interface UpdateReport {
  dryRun: boolean;
  matched: number;
  updated: number;
  skipped: number;
  /** Skip reasons with their counts. */
  reasons: Record<string, number>;
  /** Per record, at most 500. */
  records: RecordChange[];
}

export interface VersionDeps {
  repo: FeatureRepo;
  offline: OfflineStore;
  trainingSets: TrainingSetStore;
}

const MAX_LISTED = 500;

export async function updateVersion(
  deps: VersionDeps,
  where: RecordWhere,
  set: Record<string, Scalar>,
  opts: { dryRun?: boolean } = {},
): Promise<UpdateReport> {
  if (!Object.keys(set).length)
    throw new ValidationError('updateVersion: nothing to set', [
      { where: 'set', problem: 'give at least one key and value' },
    ]);
  if (where.kind === 'training-set' && 'version' in set && !where.view) {
    throw new ValidationError("updateVersion: which view's version?", [
      { where: 'where.view', problem: "setting a training set's `version` needs the view whose version it is" },
    ]);
  }
  const report = emptyReport(opts.dryRun ?? false);
  const writer = await Writer.open(deps, report.dryRun);
  for (const r of await select(deps, where)) {
    report.matched++;
    const current = currentValues(r, Object.keys(set), where.view);
    if (Object.entries(set).every(([k, v]) => current[k] === v)) {
      note(report, { id: idOf(r), action: 'skipped', reason: 'already has these values' });
      continue;
    }
    note(report, await writer.apply(r, set, where.view));
  }
  return report;
}

export async function inferVersions(
  deps: VersionDeps,
  rules: readonly VersionRule[],
  opts: { dryRun?: boolean } = {},
): Promise<UpdateReport> {
  const report = emptyReport(opts.dryRun ?? false);
  const writer = await Writer.open(deps, report.dryRun);
  const lineage = new Lineage(deps);
  for (const rule of rules) {
    const depth = rule.maxDepth ?? 5;
    for (const r of await select(deps, rule.where)) {
      report.matched++;
      if (r.kind === 'training-set' && rule.param === 'version') {
        for (const change of await inferViewVersions(r.record, rule.where.view, writer)) note(report, change);
        continue;
      }
      if (currentValues(r, [rule.param])[rule.param] !== undefined) {
        note(report, { id: idOf(r), action: 'skipped', reason: 'already set' });
        continue;
      }
      const root = r.kind === 'segment' ? segmentNode(r.record) : trainingSetNode(r.record);
      const { levels } = await lineage.bfs(root, 'up', depth, 2_000);
      let found: { values: Scalar[]; steps: number } | undefined;
      for (let k = 1; k < levels.length && !found; k++) {
        const values = [
          ...new Set(levels[k]!.map((n) => paramOf(n, rule.param)).filter((v): v is Scalar => v !== undefined)),
        ];
        if (values.length) found = { values, steps: k };
      }
      if (!found)
        note(report, {
          id: idOf(r),
          action: 'skipped',
          reason: `no record within ${depth} lineage steps up sets ${rule.param}`,
        });
      else if (found.values.length > 1)
        note(report, {
          id: idOf(r),
          action: 'skipped',
          reason: `conflicting values of ${rule.param} ${found.steps} step(s) up: ${found.values.map(String).sort().join(', ')}`,
        });
      else note(report, await writer.apply(r, { [rule.param]: found.values[0]! }));
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------------------

type Selected =
  { kind: 'segment'; record: ManifestEntry } | { kind: 'training-set'; record: TrainingSetRecord & { etag?: string } };

async function select(deps: VersionDeps, where: RecordWhere): Promise<Selected[]> {
  const params = Object.entries(where.params ?? {});
  if (where.kind === 'segment') {
    const rows = await deps.offline.manifest.list({
      ...(where.view !== undefined ? { view: where.view } : {}),
      ...(where.view !== undefined && where.version !== undefined ? { version: where.version } : {}),
      ...(where.fromDay ? { fromDay: where.fromDay } : {}),
      ...(where.toDay ? { toDay: where.toDay } : {}),
    });
    return rows
      .filter(
        (r) =>
          (where.includeSuperseded || r.state === 'live') &&
          (where.version === undefined || r.version === where.version) &&
          (where.jobId === undefined || r.lineage.jobId === where.jobId) &&
          (!where.ids || where.ids.includes(r.segmentId)) &&
          params.every(([k, v]) =>
            v === null ? own(r.lineage.params, k) === undefined : own(r.lineage.params, k) === v,
          ),
      )
      .sort(
        (a, b) => a.view.localeCompare(b.view) || a.day.localeCompare(b.day) || a.segmentId.localeCompare(b.segmentId),
      )
      .map((record) => ({ kind: 'segment' as const, record }));
  }
  const out: Selected[] = [];
  for (const { record: rec, token } of await deps.trainingSets.records()) {
    const id = rec.id;
    const day = rec.builtAt ? new Date(rec.builtAt).toISOString().slice(0, 10) : undefined;
    const ok =
      (!where.view ||
        (rec.views ?? []).some(
          (v) => v.view === where.view && (where.version === undefined || v.version === where.version),
        )) &&
      (!where.fromDay || (day !== undefined && day >= where.fromDay)) &&
      (!where.toDay || (day !== undefined && day <= where.toDay)) &&
      (where.jobId === undefined || rec.jobId === where.jobId) &&
      (!where.ids || where.ids.includes(id)) &&
      params.every(([k, v]) => (v === null ? own(rec.params, k) === undefined : own(rec.params, k) === v));
    if (ok) out.push({ kind: 'training-set', record: { ...rec, id, etag: token } });
  }
  return out.sort((a, b) => idOf(a).localeCompare(idOf(b)));
}

/** A training set's views without a version: the version of the segments it read of that view. */
async function inferViewVersions(
  rec: TrainingSetRecord & { etag?: string },
  onlyView: string | undefined,
  writer: Writer,
): Promise<RecordChange[]> {
  const out: RecordChange[] = [];
  for (const v of rec.views ?? []) {
    if (onlyView !== undefined && v.view !== onlyView) continue;
    const id = `${rec.id} ${v.view}`;
    if (v.version) {
      out.push({ id, action: 'skipped', reason: 'already set' });
      continue;
    }
    const versions = [...new Set((rec.segmentsUsed ?? []).filter((s) => s.view === v.view).map((s) => s.version))];
    if (versions.length === 0)
      out.push({ id, action: 'skipped', reason: `read no segments of ${v.view}: nothing says which version` });
    else if (versions.length > 1)
      out.push({
        id,
        action: 'skipped',
        reason: `read segments of several versions of ${v.view}: ${versions.sort().join(', ')}`,
      });
    else
      out.push({
        ...(await writer.apply({ kind: 'training-set', record: rec }, { version: versions[0]! }, v.view)),
        id,
      });
  }
  return out;
}

function paramOf(n: LineageNode, param: string): Scalar | undefined {
  if (n.kind === 'segment') return own((n.details.record as ManifestEntry | undefined)?.lineage.params, param);
  if (n.kind === 'training-set') return own((n.details.record as TrainingSetRecord | undefined)?.params, param);
  return undefined;
}

function currentValues(r: Selected, keys: string[], view?: string): Record<string, Scalar | undefined> {
  if (r.kind === 'segment') return Object.fromEntries(keys.map((k) => [k, own(r.record.lineage.params, k)]));
  return Object.fromEntries(
    keys.map((k) => [
      k,
      k === 'version' && view ? r.record.views?.find((v) => v.view === view)?.version : own(r.record.params, k),
    ]),
  );
}

function idOf(r: Selected): string {
  return r.kind === 'segment'
    ? `${r.record.view}/${r.record.version}/${r.record.day}/${r.record.segmentId}`
    : r.record.id;
}

/** Conditional writes of manifest records and training-set records (or none, in a dry run). */
class Writer {
  private constructor(
    private readonly deps: VersionDeps,
    private readonly dryRun: boolean,
  ) {}

  static async open(deps: VersionDeps, dryRun: boolean): Promise<Writer> {
    return new Writer(deps, dryRun);
  }

  async apply(r: Selected, set: Record<string, Scalar>, view?: string): Promise<RecordChange> {
    const id = idOf(r);
    if (this.dryRun) return { id, action: 'updated', set };
    const lost: RecordChange = { id, action: 'skipped', reason: 'changed while being updated; run again' };
    if (r.kind === 'segment') {
      const s = r.record;
      const lineage = { ...s.lineage, params: { ...(s.lineage.params ?? {}), ...set } };
      if ((await this.deps.offline.manifest.setLineage(s, lineage)) === 'conflict') return lost;
      s.lineage = lineage;
    } else {
      const rec = r.record;
      const { etag, ...stored } = rec;
      const { version, ...others } = set;
      const setsVersion = view !== undefined && version !== undefined;
      const params: Record<string, Scalar> = setsVersion ? others : set;
      const next: TrainingSetRecord = {
        ...stored,
        ...(setsVersion
          ? { views: (stored.views ?? []).map((v) => (v.view === view ? { ...v, version: String(version) } : v)) }
          : {}),
        ...(Object.keys(params).length ? { params: { ...(stored.params ?? {}), ...params } } : {}),
      };
      const res = await this.deps.trainingSets.replaceRecord(next, etag ?? '*');
      if (res === 'conflict') return lost;
      Object.assign(rec, next, { etag: res.token });
    }
    return { id, action: 'updated', set };
  }
}

function emptyReport(dryRun: boolean): UpdateReport {
  return { dryRun, matched: 0, updated: 0, skipped: 0, reasons: {}, records: [] };
}

function note(report: UpdateReport, c: RecordChange): void {
  if (c.action === 'updated') report.updated++;
  else {
    report.skipped++;
    report.reasons[c.reason ?? 'skipped'] = (report.reasons[c.reason ?? 'skipped'] ?? 0) + 1;
  }
  if (report.records.length < MAX_LISTED) report.records.push(c);
}
