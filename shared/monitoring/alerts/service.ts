/**
 * Alerts end to end: the rules in force (built-in defaults, then each model's monitoring
 * definition, then rules added through the API; a later rule with the same id replaces an
 * earlier one), each new observation stepped through the state machine (engine.ts) per rule
 * and subject, the state written before anything is sent (compare-and-set on the row, so two
 * runs cannot both open one alert), then the action and the sinks. A transition whose
 * delivery failed stays `delivered: false` and is sent again by the next run (`redeliver`).
 */
import { ConflictError } from '../../errors';
import { LOST_RACE, retryOnConflict } from '../../concurrency/retry-on-conflict';
import type { MetricPoint, WindowResult } from '../window-result';
import type { SummaryScore } from '../summary-anomaly';
import { step, type AlertState, type Observation } from './engine';
import type { AlertRule } from './rules';
import { DEFAULT_RULES } from './rules';
import type { AlertEvent, AlertSink } from './sinks';
import type { AlertStore } from './store';
import type { RetrainTrigger } from './retrain';

export interface AlertServiceDeps {
  store: AlertStore;
  sinks: readonly AlertSink[];
  /** Rules from model definitions (shared/definitions/monitoring.ts). */
  definedRules?: readonly AlertRule[];
  now?: () => number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

const MAX_CAS_ATTEMPTS = 4;

export class AlertService {
  private readonly now: () => number;
  constructor(private readonly deps: AlertServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Every rule in force, by id (defaults < definitions < API). */
  async rules(): Promise<AlertRule[]> {
    const byId = new Map<string, AlertRule>();
    for (const r of [...DEFAULT_RULES, ...(this.deps.definedRules ?? []), ...(await this.deps.store.listRules())])
      byId.set(r.id, r);
    return [...byId.values()];
  }

  /** Step every matching rule with a computed window's numbers. */
  async observeWindow(
    result: WindowResult,
    metrics: readonly MetricPoint[],
    retrain?: RetrainTrigger,
  ): Promise<AlertEvent[]> {
    if (result.status !== 'computed') return [];
    const events: AlertEvent[] = [];
    for (const rule of await this.rules()) {
      if (rule.metric === 'store_anomaly' || (rule.model !== undefined && rule.model !== result.model)) continue;
      for (const p of metrics) {
        if (p.metric !== rule.metric || (rule.subject !== undefined && rule.subject !== p.subject)) continue;
        const subject = `${result.model}/v${result.version}${p.subject ? `/${p.subject}` : ''}`;
        const e = await this.observe(
          rule,
          { subject, model: result.model, value: p.value, at: result.start },
          { window: result, retrain },
        );
        if (e) events.push(e);
      }
    }
    return events;
  }

  /** Step store_anomaly rules with a view's scored day summary (value 1 = anomaly). */
  async observeStore(view: string, dayStart: number, score: SummaryScore): Promise<AlertEvent[]> {
    if (score.status === 'insufficient_history') return [];
    const events: AlertEvent[] = [];
    for (const rule of await this.rules()) {
      if (rule.metric !== 'store_anomaly' || (rule.view !== undefined && rule.view !== view)) continue;
      const e = await this.observe(
        rule,
        { subject: view, view, value: score.status === 'anomaly' ? 1 : 0, at: dayStart },
        { store: score },
      );
      if (e) events.push(e);
    }
    return events;
  }

  /** Send every transition whose delivery failed before. */
  async redeliver(): Promise<number> {
    let sent = 0;
    for (const a of await this.deps.store.listAlerts()) {
      if (a.delivered || a.status === 'idle') continue;
      const stored = await this.deps.store.getAlert(a.ruleId, a.subject);
      if (!stored || stored.state.delivered) continue;
      const event: AlertEvent = {
        event: stored.state.status === 'open' ? 'opened' : 'resolved',
        alert: stored.state,
        sentAt: new Date(this.now()).toISOString(),
      };
      if (await this.deliver(event)) {
        await this.markDelivered(stored.state);
        sent++;
      }
    }
    return sent;
  }

  async list(status?: AlertState['status']): Promise<AlertState[]> {
    const all = await this.deps.store.listAlerts(status ? { status } : {});
    return all
      .filter((a) => a.status !== 'idle' || status === 'idle')
      .sort((a, b) => (b.openedAt ?? 0) - (a.openedAt ?? 0));
  }

  private async observe(
    rule: AlertRule,
    o: Observation,
    ctx: { window?: WindowResult; retrain?: RetrainTrigger | undefined; store?: SummaryScore },
  ): Promise<AlertEvent | undefined> {
    const { window, store } = ctx;
    const written = await retryOnConflict(
      async () => {
        const stored = await this.deps.store.getAlert(rule.id, o.subject);
        const stepped = step(rule, stored?.state, o, this.now());
        if (stepped.transition === 'ignored') return undefined;
        if (store && stepped.transition === 'opened')
          stepped.next.message += `; most surprising: ${store.metrics
            .slice(0, 3)
            .map(
              (m) => `${m.metric} ${m.value.toPrecision(3)} (median ${m.median.toPrecision(3)}, z ${m.z.toFixed(1)})`,
            )
            .join(', ')}`;
        const lost = await lostRaceOnConflict(() => this.deps.store.putAlert(stepped.next, stored?.etag));
        return lost ?? stepped;
      },
      {
        attempts: MAX_CAS_ATTEMPTS,
        exhausted: () =>
          new ConflictError(
            `alert ${rule.id} / ${o.subject} changed meanwhile ${MAX_CAS_ATTEMPTS} times in a row; running again is safe`,
          ),
      },
    );
    if (written === undefined) return undefined;
    const { next, transition } = written;
    if (transition !== 'opened' && transition !== 'resolved') return undefined;
    const event: AlertEvent = { event: transition, alert: next, sentAt: new Date(this.now()).toISOString() };
    if (transition === 'opened' && rule.action === 'retrain' && window)
      event.action = await this.retrain(next, window, ctx.retrain);
    if (await this.deliver(event)) await this.markDelivered(next);
    return event;
  }

  private async retrain(
    alert: AlertState,
    w: WindowResult,
    trigger: RetrainTrigger | undefined,
  ): Promise<AlertEvent['action']> {
    if (!trigger) return { kind: 'retrain', error: 'no retrain trigger is wired for this run' };
    try {
      const r = await trigger.start({
        model: w.model,
        reason: `alert ${alert.ruleId}: ${alert.message}`,
        window: { start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString() },
      });
      this.deps.log?.(
        'info',
        `alert ${alert.ruleId}: retraining ${w.model} (${r.instanceId}, ${r.started ? 'started' : 'already running for this window'})`,
      );
      return { kind: 'retrain', ...r };
    } catch (e) {
      this.deps.log?.('error', `alert ${alert.ruleId}: retraining ${w.model} failed to start: ${(e as Error).message}`);
      return { kind: 'retrain', error: (e as Error).message };
    }
  }

  /** true when every sink took it. */
  private async deliver(event: AlertEvent): Promise<boolean> {
    let ok = true;
    for (const sink of this.deps.sinks) {
      try {
        await sink.send(event);
      } catch (e) {
        ok = false;
        this.deps.log?.(
          'warn',
          `alert ${event.alert.ruleId} (${event.event}) not delivered to ${sink.name}: ${(e as Error).message}; the next monitoring run sends it again`,
        );
      }
    }
    return ok;
  }

  /**
   * Mark the transition sent, unless the alert has moved on meanwhile. If it keeps changing, it
   * stays unmarked (logged): the next run sends it again, which is safer than losing it.
   */
  private async markDelivered(state: AlertState): Promise<void> {
    const kept = new ConflictError(
      `alert ${state.ruleId} / ${state.subject} was sent, but changed meanwhile ${MAX_CAS_ATTEMPTS} times, so it stays marked undelivered and the next monitoring run sends it again`,
    );
    try {
      await retryOnConflict(
        async () => {
          const stored = await this.deps.store.getAlert(state.ruleId, state.subject);
          const same = stored && stored.state.status === state.status && stored.state.at === state.at;
          if (!same || stored.state.delivered) return undefined;
          return lostRaceOnConflict(() => this.deps.store.putAlert({ ...stored.state, delivered: true }, stored.etag));
        },
        { attempts: MAX_CAS_ATTEMPTS, exhausted: () => kept },
      );
    } catch (e) {
      if (e !== kept) throw e;
      this.deps.log?.('warn', kept.message);
    }
  }
}

/** The store's ConflictError (the row changed since it was read) as a lost race: read again. */
async function lostRaceOnConflict(write: () => Promise<void>): Promise<undefined | typeof LOST_RACE> {
  try {
    await write();
    return undefined;
  } catch (e) {
    if (e instanceof ConflictError) return LOST_RACE;
    throw e;
  }
}
