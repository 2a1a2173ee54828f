/**
 * How a long job looks to a client of /api/jobs: one shape for train, backfill and
 * training-set jobs, with the status a job queue reports (PENDING, RUNNING, COMPLETED,
 * FAILED) mapped from the Durable runtime status, and for a train job its run's live fields
 * (current step, fit progress such as trees built / total, metrics so far, the gate). Pure:
 * the functions hand it the Durable status and the run.
 */
import type { JobStatus, TrainingRun } from './runs';

export const JOB_KINDS = ['train', 'backfill', 'training-set'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** The fields of a Durable orchestration status this view reads. */
export interface DurableStatusLike {
  name?: string;
  instanceId?: string;
  runtimeStatus?: unknown;
  createdTime?: Date | string;
  lastUpdatedTime?: Date | string;
  input?: unknown;
  customStatus?: unknown;
  output?: unknown;
}

export function jobStatusOf(runtimeStatus: unknown): JobStatus {
  switch (String(runtimeStatus)) {
    case 'Pending':
      return 'PENDING';
    case 'Running':
    case 'ContinuedAsNew':
    case 'Suspended':
      return 'RUNNING';
    case 'Completed':
      return 'COMPLETED';
    default:
      return 'FAILED';
  }
}

export interface JobView {
  id: string;
  kind: JobKind;
  status: JobStatus;
  runtimeStatus: string;
  model: string | null;
  createdTime: string | null;
  lastUpdatedTime: string | null;
  step: string | null;
  progress: unknown;
  metrics: unknown;
  error: string | null;
  /** Train jobs: the run's window, version and gate decision (null elsewhere). */
  window: { from: string; to: string } | null;
  version: number | null;
  gate: unknown;
  links: { job: string; run: string | null };
  output: unknown;
}

const iso = (t: Date | string | undefined) => (t === undefined ? null : new Date(t).toISOString());

function failure(s: DurableStatusLike): string | null {
  if (typeof s.output === 'string' && jobStatusOf(s.runtimeStatus) === 'FAILED') return s.output.split('\n')[0]!;
  return null;
}

export function jobView(kind: JobKind, s: DurableStatusLike, run?: TrainingRun): JobView {
  const id = String(s.instanceId);
  const custom = (s.customStatus ?? null) as Record<string, unknown> | null;
  const status = jobStatusOf(s.runtimeStatus);
  const base: JobView = {
    id,
    kind,
    status,
    runtimeStatus: String(s.runtimeStatus),
    model: null,
    createdTime: iso(s.createdTime),
    lastUpdatedTime: iso(s.lastUpdatedTime),
    step:
      custom && typeof custom.step === 'string'
        ? custom.step
        : custom && typeof custom.phase === 'string'
          ? custom.phase
          : null,
    progress: custom,
    metrics: null,
    error: failure(s),
    window: null,
    version: null,
    gate: null,
    links: { job: `/api/jobs/${encodeURIComponent(id)}`, run: null },
    output: status === 'COMPLETED' ? (s.output ?? null) : null,
  };
  if (kind !== 'train') return base;
  const model = run?.model ?? (custom && typeof custom.model === 'string' ? custom.model : null);
  return {
    ...base,
    model,
    step: run?.step ?? base.step,
    progress: run?.progress ?? null,
    metrics: run?.metrics ?? null,
    error: run?.error ? `step ${run.error.step} failed: ${run.error.message}` : base.error,
    window: run ? { from: new Date(run.window.from).toISOString(), to: new Date(run.window.to).toISOString() } : null,
    version: run?.version ?? null,
    gate: run?.gate ?? null,
    links: { ...base.links, run: run ? `/api/runs/${encodeURIComponent(id)}` : null },
  };
}
