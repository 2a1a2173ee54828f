/**
 * Runs timer-triggered functions on their schedules, keeping each one's status
 * (Last/Next) in the blob Azure uses (`azure-webjobs-hosts/timers/...`), so a host that was
 * down when a run was due fires once at start with IsPastDue = true, as in Azure.
 *
 * Several hosts on one storage account (scale-out) fire each occurrence once between them, as
 * the Functions host does with its singleton lock: before running a scheduled (or past-due)
 * occurrence a host claims it in `timers/<host id>/<function>/claim`, a compare-and-set on the
 * blob's ETag that moves the claimed occurrence forward; a host that finds it claimed skips it.
 * runOnStartup and runs asked for by the admin API are the asking host's own (as on Azure).
 */
import type { ContainerClient } from '@azure/storage-blob';
import { parseSchedule, Schedule } from './ncrontab';
import { isNotFound, statusOf } from '../../shared/azure/status';

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

export type TimerFire = (
  name: string,
  payload: { Schedule: { AdjustForDST: boolean }; ScheduleStatus: TimerStatus | null; IsPastDue: boolean },
) => Promise<void>;

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
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** Claim the occurrence due at `at` for this host: false when another host claimed it (or a later one). */
  private async claim(name: string, at: Date): Promise<boolean> {
    const blob = this.container.getBlockBlobClient(`timers/${this.hostId}/${name}/claim`);
    let etag: string | undefined;
    try {
      etag = (await blob.getProperties()).etag;
      const r = await blob.downloadToBuffer(0, undefined, { conditions: { ifMatch: etag } });
      const claimed = (JSON.parse(r.toString('utf8')) as { occurrence: string }).occurrence;
      if (Date.parse(claimed) >= at.getTime()) return false;
    } catch (e) {
      if (statusOf(e) === 412) return false; // claimed by another host right now
      if (statusOf(e) !== 404) throw e;
    }
    const body = JSON.stringify({ occurrence: at.toISOString(), claimedAt: new Date().toISOString() });
    try {
      await blob.upload(body, Buffer.byteLength(body), { conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' } });
      return true;
    } catch (e) {
      const status = statusOf(e);
      if (status === 412 || status === 409) return false;
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
        this.track(
          pastDue && !def.runOnStartup
            ? this.runClaimed(def.name, new Date(status.Next), true, status)
            : this.run(def.name, pastDue, status),
        );
      } else {
        if (def.useMonitor && !status) {
          await this.writeStatus(def.name, {
            Last: '0001-01-01T00:00:00.000Z',
            Next: schedule.next(now).toISOString(),
            LastUpdated: now.toISOString(),
          });
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
      this.track(this.runClaimed(name, at, false, null));
    }, wait);
    t.unref();
    this.timers.set(name, t);
  }

  /** Run the occurrence due at `at` if this host claims it; else wait for the next one. */
  private async runClaimed(name: string, at: Date, isPastDue: boolean, previous: TimerStatus | null): Promise<void> {
    let mine: boolean;
    try {
      mine = await this.claim(name, at);
    } catch (e) {
      this.log(
        'warn',
        `timer function "${name}": could not claim the run due at ${at.toISOString()} (${(e as Error).message}); running it here`,
      );
      mine = true; // storage trouble: a run too many beats a run lost (timer functions are idempotent by design)
    }
    if (mine) return this.run(name, isPastDue, previous);
    this.log('info', `timer function "${name}": the run due at ${at.toISOString()} is another host's`);
    const entry = this.schedules.get(name)!;
    this.arm(name, entry.schedule.next(new Date(Math.max(Date.now(), at.getTime()))));
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
        await this.writeStatus(name, {
          Last: now.toISOString(),
          Next: next.toISOString(),
          LastUpdated: new Date().toISOString(),
        }).catch((e) => this.log('warn', `could not save timer status of "${name}": ${(e as Error).message}`));
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
