/**
 * Lineage: what every number was made from, and what was made from it, walked over records
 * that already exist — the offline manifest (each segment's view, definition version, input and
 * job), the training-set records (views, versions, segments read) and the definitions (the DAG).
 *
 *   const lineage = new Lineage({ repo, offline, trainingSets })
 *   lineage.walk('segment' | 'training-set' | 'view' | 'source', id, { direction: 'up' | 'down', depth? })
 *     -> { root, nodes, edges, truncated }        edges always point from what was used to what was made
 *
 * Nodes (id = `<kind>:<key>`):
 *   source:<name>                      a source definition (external records enter here)
 *   view:<name>@<version>              a feature view definition version
 *   service:<name>                     a feature service (reads views)
 *   segment:<view>/<version>/<day>/<segmentId>   a committed Parquet segment (a source's own records: view `src.<source>`)
 *   batch:<...>                        what ingest read: an Event Hubs range, an uploaded file, a flush
 *   training-set:<id>                  a built training set
 *   job:<id>                           the orchestration or invocation that wrote a segment or set
 * Edges:
 *   up from a segment: its definition, its input (the batch, and the source segment of the same batch,
 *     for streamed rows; the input segments a backfill read; the segments a compaction merged), its job;
 *   up from a training set: the segments it read and the view versions; up from a view: its inputs.
 *   down: the inverse — segments computed from a segment (the same batch's view rows, backfills that
 *     read it, its compaction), training sets that read it; a view's consumers, services and training sets.
 * Downward links are found by scanning the manifest over a few days around the segment (the
 * manifest has no reverse index) and every training-set record: fine for the store's sizes
 * here; add an index table if lineage queries become hot. Models join as `model:` nodes below
 * training sets once the serving registry records the training set a version was trained on.
 */
import type { FeatureRepo } from '../definitions/repo';
import type { OfflineStore } from '../offline/store';
import type { ManifestEntry } from '../offline/manifest';
import type { SegmentInput } from '../offline/types';
import { dayStart, eventDay, isSourceSegmentView, sourceOfSegmentView, sourceSegmentView } from '../offline/segment-id';
import { canonicalJson } from '../../canonical-json';
import { TRAINING_SETS_CONTAINER } from '../pit/training-set';
import type { TrainingSetRecord, TrainingSetStore } from '../pit/training-set-store';
import { NotFoundError, ValidationError } from '../../errors';
import { checkName } from '../../names';
import { didYouMean } from '../../suggest';

export const WALKABLE_KINDS = ['segment', 'training-set', 'view', 'source'] as const;
export type WalkableKind = (typeof WALKABLE_KINDS)[number];
export type LineageKind = WalkableKind | 'service' | 'batch' | 'job';

export interface LineageNode {
  id: string;
  kind: LineageKind;
  key: string;
  details: Record<string, unknown>;
}

export interface LineageEdge {
  /** What was used. */
  from: string;
  /** What was made from it. */
  to: string;
  relation: 'definition' | 'input' | 'same-batch' | 'read' | 'compacted-into' | 'job' | 'serves';
}

export interface LineageResult {
  root: string;
  direction: 'up' | 'down';
  depth: number;
  nodes: LineageNode[];
  edges: LineageEdge[];
  /** More nodes were reachable than maxNodes. */
  truncated: boolean;
}

export interface LineageDeps {
  repo: FeatureRepo;
  offline: OfflineStore;
  trainingSets: TrainingSetStore;
}

/** A training-set record as stored (older records may lack fields; see versions.ts). */
export type { TrainingSetRecord };

const DAY_MS = 86_400_000;
/** Days scanned after a segment's day for backfills that read it (a window's reach, bounded). */
const MAX_REACH_DAYS = 62;

/**
 * A root as a client names it, checked by the name rules before any storage call: a source
 * name, a view `name[@version]`, a training-set id, or a segment id (32 hex) or
 * `<view>/<version>/<yyyy-mm-dd>/<segmentId>`. ValidationError naming `kind` or `id`.
 */
export function checkLineageRef(kind: string, id: string): asserts kind is WalkableKind {
  if (!(WALKABLE_KINDS as readonly string[]).includes(kind)) {
    throw new ValidationError(`lineage: unknown kind "${kind}"`, [
      { where: 'kind', problem: `use one of ${WALKABLE_KINDS.join(', ')}${didYouMean(kind, WALKABLE_KINDS)}` },
    ]);
  }
  const parts = kind === 'view' ? id.split('@') : kind === 'segment' ? id.split('/') : [id];
  const fail = (problem: string) => {
    throw new ValidationError(`lineage: ${JSON.stringify(id.slice(0, 80))} is not a ${kind} id: ${problem}`, [
      { where: 'id', problem },
    ]);
  };
  try {
    if (kind === 'source') checkName('definition', id, 'id');
    else if (kind === 'training-set') checkName('trainingSet', id, 'id');
    else if (kind === 'view') {
      if (parts.length > 2) fail('give a view as <name> or <name>@<version>');
      checkName('storedView', parts[0], 'id');
      if (parts.length === 2) checkName('version', parts[1], 'id');
    } else if (parts.length === 1) checkName('segmentId', id, 'id');
    else if (parts.length !== 4 || !/^\d{4}-\d{2}-\d{2}$/.test(parts[2]!))
      fail('give a segment id (32 hex characters) or <view>/<version>/<yyyy-mm-dd>/<segmentId>');
    else {
      checkName('storedView', parts[0], 'id');
      checkName('version', parts[1], 'id');
      checkName('segmentId', parts[3], 'id');
    }
  } catch (e) {
    if (e instanceof ValidationError && !e.message.startsWith('lineage:')) fail(e.details[0]!.problem);
    throw e;
  }
}

interface Neighbour {
  node: LineageNode;
  relation: LineageEdge['relation'];
}

export class Lineage {
  private trainingSetCache: Promise<TrainingSetRecord[]> | undefined;
  private readonly rowsCache = new Map<string, Promise<ManifestEntry[]>>();

  constructor(private readonly deps: LineageDeps) {}

  async walk(
    kind: string,
    id: string,
    opts: { direction: 'up' | 'down'; depth?: number; maxNodes?: number },
  ): Promise<LineageResult> {
    checkLineageRef(kind, id);
    const depth = opts.depth ?? 3;
    const root = await this.resolve(kind as WalkableKind, id);
    const edges = new Map<string, LineageEdge>();
    const { levels, truncated } = await this.bfs(root, opts.direction, depth, opts.maxNodes ?? 500, (e) =>
      edges.set(`${e.from}>${e.to}>${e.relation}`, e),
    );
    const nodes = levels.flat();
    const ids = new Set(nodes.map((n) => n.id));
    return {
      root: root.id,
      direction: opts.direction,
      depth,
      nodes: nodes.map(({ details: { record: _r, ...details }, ...n }) => ({ ...n, details })),
      edges: [...edges.values()].filter((e) => ids.has(e.from) && ids.has(e.to)),
      truncated,
    };
  }

  /**
   * Breadth-first from a node: levels[0] = [root], levels[k] = nodes first reached in k steps.
   * Every edge seen is reported (from = what was used, to = what was made).
   */
  async bfs(
    root: LineageNode,
    direction: 'up' | 'down',
    depth: number,
    maxNodes: number,
    onEdge: (e: LineageEdge) => void = () => {},
  ): Promise<{ levels: LineageNode[][]; truncated: boolean }> {
    const seen = new Set([root.id]);
    const levels: LineageNode[][] = [[root]];
    let truncated = false;
    for (let level = 0; level < depth && !truncated; level++) {
      const next: LineageNode[] = [];
      for (const node of levels[level]!) {
        const around = direction === 'up' ? await this.up(node) : await this.down(node);
        for (const n of around) {
          onEdge(
            direction === 'up'
              ? { from: n.node.id, to: node.id, relation: n.relation }
              : { from: node.id, to: n.node.id, relation: n.relation },
          );
          if (seen.has(n.node.id)) continue;
          if (seen.size >= maxNodes) {
            truncated = true;
            break;
          }
          seen.add(n.node.id);
          next.push(n.node);
        }
      }
      if (!next.length) break;
      levels.push(next);
    }
    return { levels, truncated };
  }

  // ------------------------------------------------------------------------------ nodes

  async resolve(kind: WalkableKind, id: string): Promise<LineageNode> {
    switch (kind) {
      case 'source': {
        const s = this.deps.repo.source(id);
        return sourceNode(s.name, s.version);
      }
      case 'view': {
        const [name, version] = id.split('@') as [string, string | undefined];
        if (this.deps.repo.views.has(name) && (version === undefined || version === this.deps.repo.view(name).version))
          return this.viewNode(name, this.deps.repo.view(name).version);
        if (version === undefined) this.deps.repo.view(name); // NotFoundError with "did you mean"
        const any = (await this.deps.offline.manifest.list({ view: name, version: version! })).length;
        if (!any)
          throw new NotFoundError(
            `no view version ${id}: the app defines ${this.deps.repo.views.has(name) ? `${name}@${this.deps.repo.view(name).version}` : 'no such view'} and the offline store has no segments of it`,
          );
        return this.viewNode(name, version!);
      }
      case 'segment':
        return segmentNode(await this.segment(id));
      case 'training-set': {
        const rec = (await this.trainingSets()).find((t) => t.id === id);
        if (!rec) throw new NotFoundError(`no training set "${id}" in ${TRAINING_SETS_CONTAINER}`);
        return trainingSetNode(rec);
      }
    }
  }

  /** A manifest row by `<view>/<version>/<day>/<segmentId>` or by its segment id alone. */
  async segment(ref: string): Promise<ManifestEntry> {
    const parts = ref.split('/');
    if (parts.length === 4) {
      const [view, version, day, id] = parts as [string, string, string, string];
      const row = await this.deps.offline.manifest.get(view, version, day, id);
      if (row) return row;
    } else if (/^[0-9a-f]{32}$/.test(ref)) {
      const [row] = await this.deps.offline.manifest.list({ segmentId: ref });
      if (row) return row;
    } else {
      throw new ValidationError(`"${ref}" is not a segment id`, [
        { where: 'id', problem: 'give a segment id (32 hex characters) or <view>/<version>/<day>/<segmentId>' },
      ]);
    }
    throw new NotFoundError(`no segment ${ref} in the offline manifest`);
  }

  private viewNode(name: string, version: string): LineageNode {
    const current = this.deps.repo.views.get(name);
    return {
      id: `view:${name}@${version}`,
      kind: 'view',
      key: `${name}@${version}`,
      details: {
        view: name,
        version,
        current: current?.version === version,
        ...(current?.version === version ? { entity: current.entity } : {}),
      },
    };
  }

  // ------------------------------------------------------------------------------ up

  private async up(node: LineageNode): Promise<Neighbour[]> {
    const { repo } = this.deps;
    switch (node.kind) {
      case 'view': {
        const { view, version } = node.details as { view: string; version: string };
        const v = repo.views.get(view);
        if (!v || v.version !== version) return []; // an old definition: its inputs are not known here
        if (v.input.kind === 'source')
          return [{ node: sourceNode(v.input.source, repo.source(v.input.source).version), relation: 'input' }];
        return v.input.views.map((i) => ({ node: this.viewNode(i, repo.view(i).version), relation: 'input' as const }));
      }
      case 'segment': {
        const seg = node.details.record as ManifestEntry;
        const out: Neighbour[] = [{ node: this.definitionNode(seg.view, seg.version), relation: 'definition' }];
        out.push(...(await this.inputsOf(seg)));
        if (seg.lineage.jobId) out.push({ node: jobNode(seg.lineage.jobId), relation: 'job' });
        return out;
      }
      case 'training-set': {
        const rec = node.details.record as TrainingSetRecord;
        const out: Neighbour[] = [];
        for (const u of rec.segmentsUsed ?? []) {
          const row = await this.deps.offline.manifest.get(u.view, u.version, u.day, u.segmentId);
          out.push({
            node: row ? segmentNode(row) : missingSegmentNode(`${u.view}/${u.version}/${u.day}/${u.segmentId}`),
            relation: 'read',
          });
        }
        for (const v of rec.views ?? [])
          if (v.version) out.push({ node: this.viewNode(v.view, v.version), relation: 'definition' });
        if (rec.jobId) out.push({ node: jobNode(rec.jobId), relation: 'job' });
        return out;
      }
      default:
        return [];
    }
  }

  /** What a segment's rows were computed from. */
  private async inputsOf(seg: ManifestEntry): Promise<Neighbour[]> {
    const input = seg.lineage.input;
    if (input.kind === 'compaction') {
      const rows = await this.rows(seg.view, seg.version, seg.day, seg.day);
      return rows
        .filter((r) => input.inputs.includes(r.segmentId))
        .map((r) => ({ node: segmentNode(r), relation: 'input' as const }));
    }
    if (input.kind === 'job' && input.key.startsWith('backfill:')) {
      const p = seg.lineage.params ?? {};
      const refs = String(p.input_views ?? '')
        .split(',')
        .filter(Boolean);
      const from = typeof p.inputs_from === 'string' && p.inputs_from !== 'all' ? Date.parse(p.inputs_from) : undefined;
      const to = typeof p.interval_to === 'string' ? Date.parse(p.interval_to) : dayStart(seg.day) + DAY_MS;
      const asOf = typeof p.inputs_asof === 'number' ? p.inputs_asof : Infinity;
      const out: Neighbour[] = [];
      for (const ref of refs) {
        const [view, version] = ref.split('@') as [string, string];
        const rows = await this.rows(view, version, from === undefined ? undefined : eventDay(from), eventDay(to - 1));
        const used = input.inputs
          ? rows.filter((r) => input.inputs!.includes(r.segmentId))
          : rows.filter(
              (r) =>
                r.minCreatedTs <= asOf &&
                r.maxEventTs >= (from ?? -Infinity) &&
                r.minEventTs < to &&
                r.lineage.input.kind !== 'compaction',
            );
        out.push(...used.map((r) => ({ node: segmentNode(r), relation: 'input' as const })));
      }
      return out;
    }
    // Ingest (an Event Hubs batch, a file chunk) or a flush: the batch, and the source's own
    // segment of the same batch (the records the rows were computed from).
    const out: Neighbour[] = [{ node: batchNode(input), relation: 'input' }];
    const source = sourceOfInput(input);
    if (source && !isSourceSegmentView(seg.view)) {
      const same = await this.sameInput(sourceSegmentView(source), input, seg.day);
      out.push(...same.map((r) => ({ node: segmentNode(r), relation: 'same-batch' as const })));
    }
    return out;
  }

  // ------------------------------------------------------------------------------ down

  private async down(node: LineageNode): Promise<Neighbour[]> {
    const { repo } = this.deps;
    switch (node.kind) {
      case 'source': {
        const name = node.key.split('@')[0]!;
        return repo
          .viewsReading(name)
          .map((v) => ({ node: this.viewNode(v.name, v.version), relation: 'input' as const }));
      }
      case 'view': {
        const { view, version } = node.details as { view: string; version: string };
        const out: Neighbour[] = [];
        const v = repo.views.get(view);
        if (v && v.version === version) {
          out.push(
            ...repo
              .consumers(view)
              .map((c) => ({ node: this.viewNode(c.name, c.version), relation: 'input' as const })),
          );
          for (const s of repo.services.values()) {
            if (s.views.includes(view))
              out.push({
                node: {
                  id: `service:${s.name}`,
                  kind: 'service',
                  key: s.name,
                  details: {
                    version: s.version,
                    features: s.features.filter((f) => f.view === view).map((f) => f.feature),
                  },
                },
                relation: 'serves',
              });
          }
        }
        for (const t of await this.trainingSets()) {
          if ((t.views ?? []).some((x) => x.view === view && x.version === version))
            out.push({ node: trainingSetNode(t), relation: 'read' });
        }
        return out;
      }
      case 'segment': {
        const seg = node.details.record as ManifestEntry;
        const out: Neighbour[] = [];
        if (seg.supersededBy) {
          const merged = await this.deps.offline.manifest.get(seg.view, seg.version, seg.day, seg.supersededBy);
          if (merged) out.push({ node: segmentNode(merged), relation: 'compacted-into' });
        }
        const fromSource = sourceOfSegmentView(seg.view);
        const readers = fromSource !== undefined ? repo.viewsReading(fromSource) : repo.consumers(seg.view);
        const input = seg.lineage.input;
        // The same batch's view rows (streamed from the records of a source segment).
        if (
          fromSource !== undefined &&
          input.kind !== 'compaction' &&
          !(input.kind === 'job' && input.key.startsWith('backfill:'))
        ) {
          for (const v of readers)
            for (const r of await this.sameInput(v.name, input, seg.day))
              out.push({ node: segmentNode(r), relation: 'same-batch' });
        }
        // Backfills that read it.
        const lastDay = eventDay(dayStart(seg.day) + MAX_REACH_DAYS * DAY_MS);
        for (const v of readers) {
          const rows = await this.rows(v.name, undefined, seg.day, lastDay);
          for (const r of rows) {
            const ri = r.lineage.input;
            if (ri.kind !== 'job' || !ri.key.startsWith('backfill:')) continue;
            const reads = ri.inputs
              ? ri.inputs.includes(seg.segmentId)
              : String(r.lineage.params?.input_views ?? '')
                  .split(',')
                  .includes(`${seg.view}@${seg.version}`) && readsRange(r, seg);
            if (reads) out.push({ node: segmentNode(r), relation: 'input' });
          }
        }
        for (const t of await this.trainingSets()) {
          if ((t.segmentsUsed ?? []).some((u) => u.segmentId === seg.segmentId))
            out.push({ node: trainingSetNode(t), relation: 'read' });
        }
        return out;
      }
      default:
        return [];
    }
  }

  // ------------------------------------------------------------------------------ stores

  private definitionNode(view: string, version: string): LineageNode {
    const source = sourceOfSegmentView(view);
    return source !== undefined ? sourceNode(source, version) : this.viewNode(view, version);
  }

  /** Manifest rows (any state) of a view over a day range, cached per walk. */
  private rows(
    view: string,
    version: string | undefined,
    fromDay: string | undefined,
    toDay: string,
  ): Promise<ManifestEntry[]> {
    const key = `${view}|${version ?? ''}|${fromDay ?? ''}|${toDay}`;
    let p = this.rowsCache.get(key);
    if (!p) {
      p = this.deps.offline.manifest.list({
        view,
        ...(version !== undefined ? { version } : {}),
        ...(fromDay ? { fromDay } : {}),
        toDay,
      });
      this.rowsCache.set(key, p);
    }
    return p;
  }

  /** Segments of `view` written from the same input (the same batch), around a day. */
  private async sameInput(view: string, input: SegmentInput, day: string): Promise<ManifestEntry[]> {
    const t = dayStart(day);
    const rows = await this.rows(view, undefined, eventDay(t - DAY_MS), eventDay(t + 2 * DAY_MS));
    const id = canonicalJson(identity(input));
    return rows.filter((r) => canonicalJson(identity(r.lineage.input)) === id);
  }

  /** Every training-set record (JSON beside each set), read once per walk. */
  trainingSets(): Promise<TrainingSetRecord[]> {
    if (!this.trainingSetCache)
      this.trainingSetCache = this.deps.trainingSets.records().then((all) => all.map((r) => r.record));
    return this.trainingSetCache;
  }
}

// ---------------------------------------------------------------------------------------------

function sourceNode(name: string, version: string): LineageNode {
  return { id: `source:${name}`, kind: 'source', key: name, details: { source: name, version } };
}

export function segmentNode(r: ManifestEntry): LineageNode {
  const key = `${r.view}/${r.version}/${r.day}/${r.segmentId}`;
  const { rowEtag: _e, ...record } = r;
  return {
    id: `segment:${key}`,
    kind: 'segment',
    key,
    details: {
      view: r.view,
      version: r.version,
      day: r.day,
      segmentId: r.segmentId,
      state: r.state,
      rows: r.rowCount,
      events: [new Date(r.minEventTs).toISOString(), new Date(r.maxEventTs).toISOString()],
      committedAt: new Date(r.committedAt).toISOString(),
      lineage: r.lineage,
      record,
    },
  };
}

function missingSegmentNode(key: string): LineageNode {
  return { id: `segment:${key}`, kind: 'segment', key, details: { missing: 'no longer in the manifest' } };
}

export function trainingSetNode(t: TrainingSetRecord): LineageNode {
  return {
    id: `training-set:${t.id}`,
    kind: 'training-set',
    key: t.id,
    details: {
      rows: t.rowCount ?? null,
      views: t.views ?? [],
      builtAt: t.builtAt ? new Date(t.builtAt).toISOString() : null,
      record: t,
    },
  };
}

function jobNode(id: string): LineageNode {
  return { id: `job:${id}`, kind: 'job', key: id, details: {} };
}

function batchNode(input: SegmentInput): LineageNode {
  const key =
    input.kind === 'eventhub'
      ? `eventhub:${input.source}:${input.partition}:${input.firstSeq}-${input.lastSeq}`
      : input.kind === 'file'
        ? `file:${input.source}:${input.sha256}`
        : input.kind === 'job'
          ? `job:${input.key}`
          : `compaction:${input.inputs.length}`;
  return { id: `batch:${key}`, kind: 'batch', key, details: { input } };
}

function sourceOfInput(input: SegmentInput): string | undefined {
  if (input.kind === 'eventhub' || input.kind === 'file') return input.source;
  if (input.kind === 'job') return /^file:([a-z][a-z0-9_]*):/.exec(input.key)?.[1];
  return undefined;
}

/** The identity part of an input (a file's name is a label). */
function identity(input: SegmentInput): unknown {
  switch (input.kind) {
    case 'eventhub':
      return [input.kind, input.source, input.partition, input.firstSeq, input.lastSeq];
    case 'file':
      return [input.kind, input.source, input.sha256.toLowerCase()];
    case 'job':
      return [input.kind, input.key];
    case 'compaction':
      return [input.kind, [...input.inputs].sort()];
  }
}

/** Without listed inputs: a backfill segment read a segment when their ranges and arrival meet. */
function readsRange(r: ManifestEntry, seg: ManifestEntry): boolean {
  const p = r.lineage.params ?? {};
  const from = typeof p.inputs_from === 'string' && p.inputs_from !== 'all' ? Date.parse(p.inputs_from) : -Infinity;
  const to = typeof p.interval_to === 'string' ? Date.parse(p.interval_to) : Infinity;
  const asOf = typeof p.inputs_asof === 'number' ? p.inputs_asof : Infinity;
  return seg.maxEventTs >= from && seg.minEventTs < to && seg.minCreatedTs <= asOf;
}
