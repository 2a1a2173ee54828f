/**
 * What a `retrain` alert action calls: a one-method contract the functions layer wires (to
 * the Durable `train` orchestration through the durable client; training's
 * `startTraining(deps, { model, reason, window })` fits the same call). Idempotent per
 * (model, window): the instance id comes from them, so two alerts in one window start one job.
 */
export interface RetrainRequest {
  model: string;
  /** Why: the alert's message. */
  reason: string;
  /** The monitoring window that triggered it: [start, end), ISO-8601. */
  window: { start: string; end: string };
}

export interface RetrainStart {
  instanceId: string;
  /** false: a job for this (model, window) already existed; it was joined, not started again. */
  started: boolean;
}

export interface RetrainTrigger {
  start(req: RetrainRequest): Promise<RetrainStart>;
}

/** The training instance id of a (model, window): the same inputs give the same id. */
export function retrainInstanceId(model: string, windowStart: string): string {
  return `train-${model}-${windowStart.replace(/[^0-9TZ]/g, '')}`;
}
