/**
 * The shapes of the JSON APIs the pages read: the server's own types (shared/), imported as
 * types only, so a change of a response is a type error here too and the bundle does not
 * grow (esbuild drops type imports). Only GET /api/backfills shapes its jobs in its function
 * (functions/backfills-list.ts), so that one is written out here, from the shared parts.
 */
import type { BackfillProgress } from '../../shared/features/backfill/types';
import type { BackfillRequest } from '../../shared/features/backfill/request';
import type { DagGraph } from '../../shared/features/compute/dag';

export type { DependencyHealth as Dependency, HealthReport as Health } from '../../shared/health';
export type { FreshnessPlan as Plan, ViewStatus } from '../../shared/features/ledger/plan';
export type { Overview, SourceOverview, ViewOverview } from '../../shared/dashboard/overview';
export type { VersionStats } from '../../shared/serving/metrics';
export type { ModelSummary } from '../../shared/serving/summary';
export type { ModelTimeseries as Timeseries, VersionSeries } from '../../shared/serving/timeseries';
export type { DagNode } from '../../shared/features/compute/dag';
export type { LineageResult as Lineage } from '../../shared/features/lineage/lineage';
export type { BackfillProgress };

/** GET /api/dag: the graph, with the views in DAG order. */
export interface Dag extends DagGraph {
  order: string[];
}

/** One job of GET /api/backfills (JSON: times as ISO strings). */
export interface BackfillJob {
  id: string;
  runtimeStatus: string;
  createdTime: string;
  lastUpdatedTime: string;
  request: BackfillRequest | null;
  progress: BackfillProgress | null;
  output: unknown;
}
