/**
 * Monitoring yields to serving: before each window it asks whether the host is busy, and a
 * busy host defers the run's remaining windows (recorded as deferred, computed by a later
 * run) instead of competing with predictions for the CPU. Busy = this process served more
 * predict requests per second over the last minute than a threshold (the serving metrics'
 * own window), or the event loop's p99 delay during a short probe is above a threshold
 * (node's monitorEventLoopDelay: what a prediction would wait for). The probe runs while
 * monitoring itself is idle, awaiting it, so the delay it sees is everyone else's, never the
 * previous window's statistics.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface LoadVerdict {
  busy: boolean;
  reason?: string;
  eventLoopDelayP99Ms: number;
  predictPerSecond: number;
}

export interface LoadGuard {
  check(): Promise<LoadVerdict>;
}

export interface HostLoadOptions {
  maxEventLoopDelayMs: number;
  maxPredictPerSecond: number;
  /** Predict requests per second this process served recently (serving metrics). */
  predictRate: () => number;
  /** How long the event-loop probe listens (default 200 ms). */
  probeMs?: number;
}

export class HostLoadGuard implements LoadGuard {
  constructor(private readonly o: HostLoadOptions) {}

  async check(): Promise<LoadVerdict> {
    const rate = this.o.predictRate();
    const delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    await new Promise((r) => setTimeout(r, this.o.probeMs ?? 200));
    delay.disable();
    const p99 = delay.count > 0 ? delay.percentile(99) / 1e6 : 0;
    const v: LoadVerdict = { busy: false, eventLoopDelayP99Ms: round(p99), predictPerSecond: round(rate) };
    if (p99 > this.o.maxEventLoopDelayMs)
      return { ...v, busy: true, reason: `event-loop delay p99 ${round(p99)} ms > ${this.o.maxEventLoopDelayMs} ms` };
    if (rate > this.o.maxPredictPerSecond)
      return { ...v, busy: true, reason: `predict load ${round(rate)}/s > ${this.o.maxPredictPerSecond}/s` };
    return v;
  }
}

const round = (x: number) => Math.round(x * 10) / 10;
