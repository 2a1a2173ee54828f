/**
 * Runs timer-triggered functions on their schedules, keeping each one's status
 * (Last/Next) in the blob Azure uses (`azure-webjobs-hosts/timers/...`), so a host that was
 * down when a run was due fires once at start with IsPastDue = true, as in Azure.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { parseSchedule, Schedule } from './ncrontab';

export interface TimerStatus {
  Last: string;
  Next: string;
  LastUpdated: string;
}

export interface TimerDefinition {
  name: string;
  schedule: string;
  runOnStartup: boolean;
  useMonitor: boolean;
}

export type TimerFire = (name: string, payload: { Schedule: { AdjustForDST: boolean }; ScheduleStatus: TimerStatus | null; IsPastDue: boolean }) => Promise<void>;

/** Node's setTimeout caps at ~24.8 days; sleep in steps up to this. */
const MAX_SLEEP_MS = 2 ** 31 - 1;

export class TimerScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly schedules = new Map<string, { def: TimerDefinition; schedule: Schedule }>();
  private stopped = false;
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly container: ContainerClient,
    private readonly hostId: string,
    private readonly fire: TimerFire,
    private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void,
  ) {}

  private blob(name: string) {
    return this.container.getBlockBlobClient(`timers/${this.hostId}/${name}/status`);
  }

  private async readStatus(name: string): Promise<TimerStatus | null> {
    try {
      return JSON.parse((await this.blob(name).downloadToBuffer()).toString('utf8')) as TimerStatus;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return null;
      throw e;
    }
  }

  private async writeStatus(name: string, s: TimerStatus): Promise<void> {
    const text = JSON.stringify(s);
    await this.blob(name).upload(text, Buffer.byteLength(text));
  }

  async start(defs: TimerDefinition[]): Promise<void> {
    for (const def of defs) {
      const schedule = parseSchedule(def.schedule);
      this.schedules.set(def.name, { def, schedule });
      const status = def.useMonitor ? await this.readStatus(def.name) : null;
      const now = new Date();
      const pastDue = status !== null && Date.parse(status.Next) <= now.getTime();
      if (def.runOnStartup || pastDue) {
        this.track(this.run(def.name, pastDue, status));
      } else {
        if (def.useMonitor && !status) {
          await this.writeStatus(def.name, { Last: '0001-01-01T00:00:00.000Z', Next: schedule.next(now).toISOString(), LastUpdated: now.toISOString() });
        }
        this.arm(def.name, schedule.next(now));
      }
    }
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  private arm(name: string, at: Date): void {
    if (this.stopped) return;
    clearTimeout(this.timers.get(name));
    const wait = Math.min(MAX_SLEEP_MS, Math.max(0, at.getTime() - Date.now()));
    const t = setTimeout(() => {
      if (Date.now() + 5 < at.getTime()) return this.arm(name, at);
      this.track(this.run(name, false, null));
    }, wait);
    t.unref();
    this.timers.set(name, t);
  }

  /** Fire a timer function now (scheduled, past due, or on demand from the admin API). */
  async run(name: string, isPastDue: boolean, previous: TimerStatus | null): Promise<void> {
    const entry = this.schedules.get(name);
    if (!entry) throw new Error(`no timer function named "${name}"`);
    const now = new Date();
    const status: TimerStatus = {
      Last: previous?.Last ?? now.toISOString(),
      Next: entry.schedule.next(now).toISOString(),
      LastUpdated: now.toISOString(),
    };
    try {
      await this.fire(name, { Schedule: { AdjustForDST: true }, ScheduleStatus: status, IsPastDue: isPastDue });
    } catch (err) {
      this.log('error', `timer function "${name}" failed: ${(err as Error).message}`);
    } finally {
      const next = entry.schedule.next(new Date());
      if (entry.def.useMonitor) {
        await this.writeStatus(name, { Last: now.toISOString(), Next: next.toISOString(), LastUpdated: new Date().toISOString() }).catch((e) =>
          this.log('warn', `could not save timer status of "${name}": ${(e as Error).message}`),
        );
      }
      this.arm(name, next);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }
}
