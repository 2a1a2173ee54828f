/**
 * The shapes of the JSON APIs the pages read (the README's HTTP API section documents
 * them; the server's types are in shared/). Only the fields the pages use.
 */
export interface Dependency { ok: boolean; latencyMs: number; version?: string; detail?: string; error?: string }
export interface Health { status: 'ok' | 'degraded'; version: string; checkedAt: string; dependencies: Record<string, Dependency> }

export interface ViewStatus {
  view: string; version: string; freshnessMs: number; watermark: string | null; newestSourceEvent: string | null;
  lagMs: number | null; caughtUp: boolean; days: Record<'complete' | 'incomplete' | 'pending' | 'missing' | 'stale', number>;
}
export interface SourceOverview {
  name: string; version: string; hub: string | null; files: boolean; views: string[]; newestEvent: string | null;
  ingest: { recordsPerSecond: number; rateWindowSeconds: number; since: string; perMinute: number[]; lastHour: number };
  deadLettered: { days: number; records: number };
  late: { days: number; daysMarked: number; byView: Record<string, number> };
}
export interface ViewOverview extends ViewStatus { inputs: string[]; ageMs: number | null; lateDays: number }
export interface Overview { generatedAt: string; health: Health; sources: SourceOverview[]; views: ViewOverview[] }

export interface Plan {
  generatedAt: string;
  views: ViewStatus[];
  work: Array<{ view: string; version: string; day: string; kind: string; reason: string }>;
  backfills: Array<{ views: string[]; from: string; to: string; days: number }>;
}

export interface VersionStats { version: number; shadow: boolean; requests: number; predictions: number; errors: number; share: number; latencyMs: { p50: number | null; p95: number | null; p99: number | null } }
export interface ModelSummary {
  model: string; description?: string; latestVersion: number; aliases: Record<string, number>;
  traffic: { production: number; canary: number }; productionHistory: number[];
  versions: Array<{ version: number; createdAt: string; description?: string; featureService: string; features: number; aliases: string[] }>;
  history: Array<{ seq: number; at: string; action: string; alias?: string; from?: number; to?: number; traffic?: { production: number; canary: number } }>;
  stats: { windowSeconds: number; requests: number; errors: number; versions: VersionStats[] };
}
type Q<T> = { p50: T; p95: T; p99: T };
export interface VersionSeries {
  version: number; shadow: boolean; routedBy: string[];
  requests: number[]; requestsPerSecond: number[]; predictions: number[];
  latencyMs: Q<Array<number | null>>;
  totals: { requests: number; predictions: number; latencyMs: Q<number | null> };
}
export interface Timeseries { model: string; from: string; to: string; stepMs: number; buckets: number[]; versions: VersionSeries[]; segments: number }

export interface BackfillProgress {
  phase?: string; stage?: string;
  intervals?: { total: number; done: number; committed: number; skipped: number; empty: number };
  rows?: Record<string, number>;
}
export interface BackfillJob {
  id: string; runtimeStatus: string; createdTime: string; lastUpdatedTime: string;
  request: { views: string[]; from: number; to: number; intervalMs: number } | null;
  progress: BackfillProgress | null; output: unknown;
}

export interface DagNode { id: string; kind: 'source' | 'view' | 'service' | 'model'; name: string; version: string; description?: string; details: Record<string, unknown> }
export interface Dag { nodes: DagNode[]; edges: Array<{ from: string; to: string; features?: string[] }>; order: string[] }

export interface Lineage { root: string; nodes: Array<{ id: string; kind: string; [k: string]: unknown }>; edges: Array<{ from: string; to: string; relation?: string }> }
