/**
 * Monitoring's `retrain` alert action (shared/monitoring/alerts/retrain.ts) as a training
 * start: startTraining with the model's own training config, its data window ending where the
 * alerting monitoring window ends. The window comes from the alert, not from the clock, so two
 * alerts of one window ask for the same job (one instance id: the second joins), the next
 * window's alert for a new one, and the cooldown and plan-before-run of automatic triggers apply.
 */
import type { RetrainRequest, RetrainStart, RetrainTrigger } from '../monitoring/alerts/retrain';
import { resolveWindow, type WindowSpec } from './config';
import { startTraining, type TrainingTriggerDeps } from './start';

/** The config's window as of `end`: a `last: 30d` window ends there; a fixed {from, to} stays as declared. */
export function windowEndingAt(spec: WindowSpec | undefined, end: number): WindowSpec | undefined {
  if (spec === undefined || !('last' in spec)) return spec;
  return resolveWindow(spec, end);
}

export function trainingRetrainTrigger(deps: () => Promise<TrainingTriggerDeps>): RetrainTrigger {
  return {
    async start(req: RetrainRequest): Promise<RetrainStart> {
      const d = await deps();
      const window = windowEndingAt(d.configs(req.model)?.window, Date.parse(req.window.end));
      const r = await startTraining(d, {
        model: req.model,
        reason: `alert: ${req.reason}`,
        ...(window ? { window } : {}),
      });
      return { instanceId: r.instanceId, started: r.started };
    },
  };
}
