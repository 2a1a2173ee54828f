/**
 * The local Durable Functions engine: runs the app's `df.app.orchestration` code through the
 * SDK's own replay handler, carries out the actions it returns, and keeps every instance's state
 * in Table storage so that a killed host resumes where it stopped.
 *
 * Per instance, episodes run one at a time: take the waiting events, replay history plus those
 * events through the SDK, commit (history rows, then the instance row), then dispatch the new
 * work. Work is only dispatched after its TaskScheduled / TimerCreated / SubOrchestration row is
 * committed, so after a crash every scheduled-but-unfinished item is found in history and run
 * again (activities are at-least-once, as in Azure). Raised events and terminate / suspend /
 * resume requests are written to the instance's inbox before they are acknowledged.
 *
 * Several hosts on one task hub (as the instances of a Function App share one on Azure): an
 * instance's episodes run on the host holding the lease in its Instances row (ETag-guarded,
 * renewed every lease/3, renewed by every commit); activities are work items in `<hub>Work` that
 * any host claims with a lease of its own and renews while it runs them, so they spread over the
 * hosts; work whose lease expired (its host died) is taken by another host. A result for an
 * instance owned elsewhere goes to that instance's durable inbox and wakes its owner. A host that
 * is alone runs what it schedules at once, without waiting for a poll; a restarted host takes its
 * own work back at once (leases name the host and its run), and a clean stop releases everything.
 *
 * Poison instances. Code that throws fails its task or instance as usual; code that kills the
 * process (a fatal V8 error, exhausted memory) would be re-run by every restart. So a host marks
 * the task hub's lease running while it works and clean when it stops; a host that starts after
 * a crash counts, per instance that had an activity or an episode to run, one crash restart
 * (reset by its next commit). At POISON_AFTER_CRASHES the instance is failed with the reason
 * instead of resumed, and the host keeps serving everything else. When the host watchdog
 * killed the last host (a blocked event loop or memory over budget, local/watchdog) and caught
 * an activity or episode of an instance on the stack, that code is failed at once instead: the
 * activity's task with Azure's functionTimeout words (the orchestrator may catch it), an episode
 * by failing the instance; code the watchdog could only suspect is counted as above.
 */
import type { StorageConnection } from '../../shared/azure/connections';
import { randomUUID } from 'node:crypto';
import type { FunctionsCore } from '../functions-core';
import { storageFor } from '../../shared/azure/storage';
import { ConflictError, StrataError, ValidationError } from '../../shared/errors';
import { checkName } from '../../shared/names';
import { Alarm, alarmAt } from './alarm';
import { AppFunctions, FunctionTimeoutError } from './app-functions';
import type { CodeWatch } from '../watchdog/watchdog';
import { describeCode, type RunningCode, type WatchdogStop } from '../watchdog/record';
import { takeover, type Takeover } from './leases';
import { Execution, Work } from './execution';
import { Limiter } from './limiter';
import {
  EventType,
  FailureDetails,
  HistoryEvent,
  RuntimeStatus,
  isTerminal,
  parseJsonText,
  toJsonText,
} from './protocol';
import { InstanceStatus, historyView, statusOf } from './status';
import {
  HistoryRecord,
  InboxMessage,
  InstanceQuery,
  InstanceRecord,
  LeaseHolder,
  MessageKind,
  ParentLink,
  TaskHubStore,
  WorkItem,
} from './store';

export interface EngineOptions {
  core: FunctionsCore;
  storageConnection: StorageConnection | string;
  hubName: string;
  maxConcurrentActivities: number;
  maxConcurrentOrchestrations: number;
  /** host.json functionTimeout: an activity still running after this fails its task (as Azure's timeout does). */
  functionTimeoutMs?: number;
  /** Between polls of a callHttp 202 without Retry-After (host.json durableTask.httpSettings). */
  httpAsyncSleepMs?: number;
  /** The host watchdog, told which activity or episode runs (local/watchdog). */
  watch?: CodeWatch;
  /** What the watchdog recorded when it killed the last host: the work it blames is failed, not run again. */
  lastStop?: WatchdogStop;
  /** This host's name on the task hub, the same across its restarts (two hosts on one hub need two names; Table-key characters only). */
  hostId?: string;
  /** How long a lease holds without renewal before another host takes the work over (default 30 s, as Azure's partition leases). */
  leaseMs?: number;
  /** How often a host looks for work to claim and messages for its instances (default 500 ms). */
  pollMs?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface StartOptions {
  instanceId?: string;
  input?: unknown;
  version?: string;
}

export interface StatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

/** How a client request to an instance went, in the HTTP API's terms (202 / 410 / 404). */
export type ClientOpResult = 'accepted' | 'gone' | 'notFound';
export type PurgeResult = 'purged' | 'notFound' | 'notTerminal';

/** An event waiting for the instance's next episode. */
interface Inbound {
  event: HistoryEvent;
  /** Results of work carry the execution that scheduled it; they are dropped once it has moved on. */
  executionId?: string;
  /** The durable inbox message it came from (deleted once an episode that consumed it is committed). */
  messageId?: string;
  /** An activity kept killing its host: the instance is failed with this reason. */
  poison?: string;
}

/** An activity this host holds the lease of (running, or waiting for a slot). */
interface HeldWork {
  item: WorkItem;
  etag: string;
  /** Another host took it over (this one's renewal came too late): its result is still delivered, the item is theirs. */
  lost: boolean;
  /** Writes of its row (renewals, the final delete) one at a time, each with the last ETag. */
  writes: Promise<unknown>;
}

/** An instance that is not finished, held in memory while it runs. */
class LiveInstance {
  readonly inbox: Inbound[] = [];
  readonly alarms = new Map<number, Alarm>();
  /** Consumed inbox messages whose deletion is not confirmed yet. */
  readonly pendingDeletes = new Set<string>();
  draining = false;
  /** False until its row is stored (a new instance) or its inbox is rebuilt (a revived one). */
  ready = false;
  /** Inbox messages already queued or consumed here (an owner woken twice reads its inbox twice). */
  readonly known = new Set<string>();
  /** Writes of its row (commits, lease renewals) one at a time, each with the last ETag. */
  rowWrites: Promise<unknown> = Promise.resolve();
  constructor(
    public row: InstanceRecord,
    public exec: Execution,
  ) {}
  get id(): string {
    return this.row.instanceId;
  }
}

const CONTROL = new Set([EventType.ExecutionTerminated, EventType.ExecutionSuspended, EventType.ExecutionResumed]);
const MESSAGE_EVENT: Record<Exclude<MessageKind, 'result' | 'poison'>, EventType> = {
  event: EventType.EventRaised,
  terminate: EventType.ExecutionTerminated,
  suspend: EventType.ExecutionSuspended,
  resume: EventType.ExecutionResumed,
};
const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_POLL_MS = 500;
/** Enough to batch a large fan-in into a few episodes, small enough to keep one episode short. */
const MAX_EVENTS_PER_EPISODE = 500;
const ACTIVE: RuntimeStatus[] = ['Pending', 'Running', 'Suspended'];
/** Crash restarts (without a commit between them) after which an instance is failed, not resumed. */
export const POISON_AFTER_CRASHES = 3;

const workKey = (w: { executionId: string; taskId: number }) => `${w.executionId}-${w.taskId}`;

/** Azure Storage keys (and so instance ids) may not contain / \ # ? or control characters (shared/names.ts). */
export function checkInstanceId(id: string): void {
  checkName('instanceId', id, 'instanceId');
}

/** The extension's TaskFailed: Reason (`Activity function 'x' failed: ...`) and Details; FailureDetails only as the SDK sent them. */
function activityFailedEvent(name: string, taskId: number, message: string, details: string): HistoryEvent {
  return {
    EventType: EventType.TaskFailed,
    EventId: -1,
    TaskScheduledId: taskId,
    Timestamp: new Date().toISOString(),
    Reason: `Activity function '${name}' failed: ${message}`,
    Details: details,
  };
}

export class DurableEngine {
  readonly store: TaskHubStore;
  readonly hubName: string;
  /** Counters for tests and benchmarks. */
  readonly stats = { episodes: 0, activities: 0 };
  private readonly app: AppFunctions;
  private readonly live = new Map<string, LiveInstance>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly revivals = new Map<string, { attempts: number; timer?: NodeJS.Timeout }>();
  private readonly activitySlots: Limiter;
  private readonly episodeSlots: Limiter;
  private readonly log: NonNullable<EngineOptions['log']>;
  private stopping = false;
  private startedAt: Date | undefined;
  private readonly lastStop: WatchdogStop | undefined;
  readonly hostId: string;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  /** This run of the host (a restart is a new run): a lease of an earlier run is this host's to take back. */
  private run = '';
  /** The last run of this host did not stop cleanly. */
  private afterCrash = false;
  /** Hosts with a live heartbeat on this task hub (this one included), as of the last beat. */
  private hosts: string[] = [];
  private readonly held = new Map<string, HeldWork>();
  /** Work finished here whose item could not be deleted yet (claimWork deletes it, never runs it again). */
  private readonly undeleted = new Set<string>();
  private readonly acquiring = new Set<string>();
  private loop: NodeJS.Timeout | undefined;
  private lastBeat = 0;
  private ticking: Promise<void> | undefined;
  /** Aborts work that waits (callHttp polling) when the host stops. */
  private halt = new AbortController();

  constructor(o: EngineOptions) {
    this.hubName = o.hubName;
    this.store = new TaskHubStore(storageFor(o.storageConnection), o.hubName);
    this.app = new AppFunctions(
      o.core,
      () => ({ defaultSleepMs: o.httpAsyncSleepMs ?? 30_000, signal: this.halt.signal }),
      o.functionTimeoutMs,
      o.watch,
    );
    this.lastStop = o.lastStop;
    // Without a name this engine is a host of its own (a test harness): nobody else takes its work back early.
    this.hostId = o.hostId ?? `engine-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollMs = o.pollMs ?? DEFAULT_POLL_MS;
    this.activitySlots = new Limiter(o.maxConcurrentActivities);
    this.episodeSlots = new Limiter(o.maxConcurrentOrchestrations);
    this.log = o.log ?? ((level, m) => (level === 'error' ? console.error : console.log)(`[durable] ${m}`));
  }

  /** Create the task hub's tables, join the hosts on it, and take every instance nobody (alive) runs. */
  async start(): Promise<void> {
    this.stopping = false;
    this.halt = new AbortController();
    await this.store.init();
    const last = await this.store.readHost(this.hostId);
    this.afterCrash = last !== undefined && !last.clean;
    this.run = randomUUID().replace(/-/g, '');
    await this.store.writeHost(this.hostId, this.run, false, this.leaseEnd());
    this.lastBeat = Date.now();
    this.hosts = await this.store.liveHosts(new Date());
    if (this.afterCrash)
      this.log(
        'warn',
        `the last run of host ${this.hostId} on task hub ${this.hubName} did not stop cleanly; counting a crash restart for each instance it was running code for`,
      );
    await this.failBlamedActivity();
    const taken = await this.acquireAll();
    if (taken) this.log('info', `resumed ${taken} unfinished orchestration(s) from task hub ${this.hubName}`);
    this.schedule();
  }

  /** Stop dispatching, let running episodes commit, release every lease (storage keeps the rest). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.halt.abort(new Error('the host is stopping'));
    clearTimeout(this.loop);
    for (const inst of this.live.values()) for (const a of inst.alarms.values()) a.cancel();
    for (const r of this.revivals.values()) clearTimeout(r.timer);
    this.revivals.clear();
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => setTimeout(r, 10_000).unref())]);
    await this.ticking?.catch(() => undefined);
    // Activities still running are simply run again by the next host: a clean stop is no crash,
    // and its leases are given up so that the other hosts take the work at once.
    const releases = [
      ...[...this.live.values()].map((inst) =>
        this.rowWrite(inst, async () => {
          if (inst.row.etag) await this.store.leaseInstance(inst.id, undefined, inst.row.etag);
        }),
      ),
      ...[...this.held.values()].filter((h) => !h.lost).map((h) => this.store.leaseWork(h.item, undefined, h.etag)),
    ];
    await Promise.allSettled(releases);
    this.live.clear();
    this.held.clear();
    if (this.run)
      await this.store
        .writeHost(this.hostId, this.run, true, new Date())
        .catch((e: Error) => this.log('warn', `could not mark host ${this.hostId} stopped cleanly: ${e.message}`));
  }

  // ---------------------------------------------------------------- leases

  private leaseEnd(): Date {
    return new Date(Date.now() + this.leaseMs);
  }

  private mine(): LeaseHolder {
    return { owner: this.hostId, run: this.run, expires: this.leaseEnd() };
  }

  private takeover(h: LeaseHolder | undefined): Takeover {
    return takeover(h, { hostId: this.hostId, run: this.run, afterCrash: this.afterCrash, now: new Date() });
  }

  /** Write an instance's row after the writes before it, with its latest ETag. */
  private rowWrite<T>(inst: LiveInstance, fn: () => Promise<T>): Promise<T> {
    const next = inst.rowWrites.catch(() => undefined).then(fn);
    inst.rowWrites = next;
    return next;
  }

  private schedule(): void {
    if (this.stopping) return;
    this.loop = setTimeout(() => {
      this.ticking = this.tick()
        .catch((e: Error) => this.log('warn', `task hub ${this.hubName}: lease round failed: ${e.message}`))
        .finally(() => this.schedule());
    }, this.pollMs);
    this.loop.unref();
  }

  /** One round: every lease/3 renew the leases and look for abandoned instances; every poll read wakes and claim work. */
  private async tick(): Promise<void> {
    if (Date.now() - this.lastBeat >= this.leaseMs / 3) {
      this.lastBeat = Date.now();
      await this.store.writeHost(this.hostId, this.run, false, this.leaseEnd());
      await Promise.all([...this.live.values()].map((inst) => this.renewInstance(inst)));
      await Promise.all([...this.held.values()].map((h) => this.renewWork(h)));
      this.hosts = await this.store.liveHosts(new Date());
      await this.acquireAll();
    }
    if (this.stopping) return;
    for (const id of await this.store.takeWakes(this.hostId)) {
      const inst = this.live.get(id);
      if (inst?.ready) await this.refreshInbox(inst);
    }
    await this.claimWork();
  }

  private async renewInstance(inst: LiveInstance): Promise<void> {
    if (!inst.ready) return;
    try {
      await this.rowWrite(inst, async () => {
        if (this.live.get(inst.id) !== inst || !inst.row.etag) return;
        const holder = this.mine();
        const etag = await this.store.leaseInstance(inst.id, holder, inst.row.etag);
        inst.row = { ...inst.row, holder, etag };
      });
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      this.log('warn', `orchestration "${inst.id}": another host took it over (${e.message}); leaving it to that host`);
      this.evict(inst);
    }
  }

  /** Write a held work item's row after the writes before it (a renewal racing the delete would leave it behind). */
  private workWrite<T>(h: HeldWork, fn: () => Promise<T>): Promise<T> {
    const next = h.writes.catch(() => undefined).then(fn);
    h.writes = next;
    return next;
  }

  private async renewWork(h: HeldWork): Promise<void> {
    try {
      await this.workWrite(h, async () => {
        if (h.lost || this.held.get(workKey(h.item)) !== h) return;
        h.etag = await this.store.leaseWork(h.item, this.mine(), h.etag);
      });
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      h.lost = true;
      this.log('warn', `activity '${h.item.name}' of "${h.item.instanceId}": another host took it over`);
    }
  }

  /** Take every unfinished instance that nobody alive holds; how many were taken. */
  private async acquireAll(): Promise<number> {
    const rows = await this.store.instanceHolders();
    const pool = new Limiter(8);
    const results = await Promise.all(
      rows
        .filter((r) => !this.live.has(r.instanceId) && this.takeover(r.holder).kind !== 'held')
        .map((r) => pool.run(() => this.acquire(r.instanceId))),
    );
    return results.filter(Boolean).length;
  }

  /**
   * Take an instance's lease (if nobody alive holds it) and load it. The run before held it and
   * died: after a crash, its code to run counts a crash restart (revive).
   */
  private async acquire(instanceId: string): Promise<boolean> {
    if (this.stopping || this.live.has(instanceId) || this.acquiring.has(instanceId)) return false;
    this.acquiring.add(instanceId);
    try {
      const row = await this.store.readInstance(instanceId);
      if (!row || isTerminal(row.runtimeStatus) || !row.etag) return false;
      const t = this.takeover(row.holder);
      if (t.kind === 'held') return false;
      const holder = this.mine();
      try {
        row.etag = await this.store.leaseInstance(instanceId, holder, row.etag);
      } catch (e) {
        if (e instanceof ConflictError) return false; // another host was quicker
        throw e;
      }
      row.holder = holder;
      if (t.kind === 'free' && t.from && t.from.owner !== this.hostId)
        this.log('info', `orchestration "${instanceId}": taken over from host ${t.from.owner} (its lease expired)`);
      try {
        await this.revive(row, t.kind === 'free' && t.crashed);
      } catch (e) {
        this.log('error', `could not resume orchestration "${instanceId}": ${(e as Error).message}`);
        this.scheduleRevive(instanceId);
        return false;
      }
      return true;
    } finally {
      this.acquiring.delete(instanceId);
    }
  }

  /** Messages that came to an instance's inbox from elsewhere (another host's results, client requests there). */
  private async refreshInbox(inst: LiveInstance): Promise<void> {
    const stored = await this.store.readMessages(inst.id);
    for (const m of stored) if (!inst.known.has(m.id)) this.deliver(inst.id, this.inboundFrom(m));
  }

  /** Claim queued activities nobody alive holds, this host's share of them, as slots allow. */
  private async claimWork(): Promise<void> {
    const free = this.activitySlots.limit - this.held.size;
    if (free <= 0 || this.stopping) return;
    const open = (await this.store.listWork())
      .filter((w) => !this.held.has(workKey(w)))
      .map((w) => ({ w, t: this.takeover(w.holder) }))
      .filter((c) => c.t.kind !== 'held');
    if (!open.length) return;
    const share = Math.min(free, Math.max(1, Math.ceil(open.length / Math.max(1, this.hosts.length))));
    // Hosts start at different places, so they seldom race for the same item.
    const offset = Math.floor(Math.random() * open.length);
    const order = open.map((_, i) => open[(i + offset) % open.length]!);
    let taken = 0;
    for (const { w, t } of order) {
      if (t.kind === 'ours') {
        const key = workKey(w);
        // Held by this run: running here, or finished here with its delete not gone through.
        if (this.held.has(key)) continue;
        if (this.undeleted.has(key)) {
          await this.store.deleteWork(w, w.etag!);
          this.undeleted.delete(key);
          continue;
        }
        // Ours but running nowhere (its release failed in an outage, or a reload queued it again):
        // run it again here rather than leave it held until this host restarts.
        const item = await this.store.readWork(w.executionId, w.taskId);
        if (item && !this.held.has(key)) this.runWork(item, item.etag ?? w.etag!);
        continue;
      }
      if (taken >= share || this.stopping) break;
      const crashes = w.crashes + (t.kind === 'free' && t.crashed ? 1 : 0);
      let etag: string;
      try {
        etag = await this.store.leaseWork({ ...w, crashes }, this.mine(), w.etag!);
      } catch (e) {
        if (e instanceof ConflictError) continue;
        throw e;
      }
      taken++;
      const item = await this.store.readWork(w.executionId, w.taskId);
      if (!item) continue;
      item.crashes = crashes;
      if (crashes >= POISON_AFTER_CRASHES) await this.poisonWork(item, etag!);
      else this.runWork(item, item.etag ?? etag!);
    }
  }

  /** An activity whose hosts died POISON_AFTER_CRASHES times running it: its instance is failed, the activity not run again. */
  private async poisonWork(item: WorkItem, etag: string): Promise<void> {
    const reason = `the host process stopped ${item.crashes} times while this instance was running activity '${item.name}' (a crash: out of memory, a fatal error or a kill in that code); it is failed instead of being run again`;
    this.log(
      'error',
      `orchestration "${item.instanceId}": the host stopped ${item.crashes} times while running activity '${item.name}'; failing it instead of running it again`,
    );
    await this.sendRemote(item.instanceId, { kind: 'poison', data: toJsonText(reason) });
    await this.store.deleteWork(item, etag);
  }

  /**
   * The activity the watchdog caught on the stack when it killed this host's last run: completed
   * as Failed with the reason (Azure's functionTimeout words), before any host could claim it again.
   */
  private async failBlamedActivity(): Promise<void> {
    const c = this.lastStop?.culprit;
    if (!c || c.kind !== 'activity' || !c.instanceId || c.taskId === undefined) return;
    const item =
      c.executionId !== undefined
        ? await this.store.readWork(c.executionId, c.taskId)
        : (await this.store.listWork()).find((w) => w.instanceId === c.instanceId && w.taskId === c.taskId);
    if (!item?.etag) return; // it finished, or was never queued
    const t = this.takeover(item.holder);
    if (t.kind === 'held') {
      this.log('warn', `${describeCode(c)}: the watchdog blamed it, but host ${item.holder?.owner} runs it already`);
      return;
    }
    let etag: string;
    try {
      etag = await this.store.leaseWork(item, this.mine(), item.etag);
    } catch (e) {
      if (e instanceof ConflictError) return;
      throw e;
    }
    this.log(
      'warn',
      `orchestration "${c.instanceId}": failing ${describeCode(c)}: the host watchdog stopped the host while it ran`,
    );
    const event = activityFailedEvent(item.name, item.taskId, this.watchdogReason(c), '');
    await this.deliverResult(item.instanceId, { event, executionId: item.executionId });
    await this.store.deleteWork(item, etag);
  }

  // ---------------------------------------------------------------- client operations

  /**
   * Start an orchestration. An instance id that is Pending/Running/Suspended is not started
   * twice: ConflictError (HTTP 409), as Azure's default overridableExistingInstanceStates does.
   * A finished instance with that id is replaced by a new execution.
   */
  async startNew(name: string, o: StartOptions = {}): Promise<InstanceRecord> {
    const fn = this.app.orchestrator(name);
    if (!fn) {
      throw new ValidationError(
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        [{ where: 'functionName', problem: `no df.app.orchestration('${name}', ...) is registered` }],
      );
    }
    const instanceId = o.instanceId ?? randomUUID().replace(/-/g, '');
    checkInstanceId(instanceId);
    return this.withLock(instanceId, async () => {
      const existing = await this.readRow(instanceId);
      if (existing && !isTerminal(existing.runtimeStatus)) {
        throw new ConflictError(
          `An orchestration instance with id '${instanceId}' already exists and is ${existing.runtimeStatus}; wait for it to finish, terminate it, or use another instance id.`,
        );
      }
      return this.createInstance(
        { name: fn.name, instanceId, input: toJsonText(o.input), version: o.version },
        existing,
      );
    });
  }

  /**
   * Run an instance again with its original input, as the extension's RestartAsync does: under a
   * new instance id (the default) or the same one (which must have finished). Undefined when
   * there is no such instance.
   */
  async restart(instanceId: string, withNewInstanceId = true): Promise<InstanceRecord | undefined> {
    const row = await this.readRow(instanceId);
    if (!row) return undefined;
    const input = parseJsonText(row.input);
    return this.startNew(row.name, {
      input,
      ...(withNewInstanceId ? {} : { instanceId }),
      ...(row.version ? { version: row.version } : {}),
    });
  }

  async getStatus(instanceId: string, o: StatusOptions = {}): Promise<InstanceStatus | undefined> {
    const inst = this.live.get(instanceId);
    const row = inst?.row ?? (await this.store.readInstance(instanceId));
    if (!row) return undefined;
    const status = statusOf(row, o.showInput ?? true);
    if (o.showHistory) {
      const records =
        inst && inst.row === row
          ? inst.exec.history
          : await this.store.readHistory(instanceId, row.historyStart, row.historyLength);
      status.historyEvents = historyView(records, o.showHistoryOutput ?? false);
    }
    return status;
  }

  async listInstances(
    q: InstanceQuery,
    o: { pageSize?: number; continuationToken?: string; showInput?: boolean } = {},
  ): Promise<{ instances: InstanceStatus[]; continuationToken?: string }> {
    const page = await this.store.queryInstances(q, o.pageSize ?? 100, o.continuationToken);
    return {
      instances: page.instances.map((r) => statusOf(r, o.showInput ?? true)),
      continuationToken: page.continuationToken,
    };
  }

  raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<ClientOpResult> {
    return this.sendMessage(instanceId, { kind: 'event', name: eventName, data: toJsonText(data) });
  }

  terminate(instanceId: string, reason?: string): Promise<ClientOpResult> {
    return this.sendMessage(instanceId, { kind: 'terminate', data: toJsonText(reason ?? null) });
  }

  suspend(instanceId: string, reason?: string): Promise<ClientOpResult> {
    return this.sendMessage(instanceId, { kind: 'suspend', data: toJsonText(reason ?? null) });
  }

  resume(instanceId: string, reason?: string): Promise<ClientOpResult> {
    return this.sendMessage(instanceId, { kind: 'resume', data: toJsonText(reason ?? null) });
  }

  /** Delete a finished instance's state (row, history, inbox, large values). */
  purge(instanceId: string): Promise<PurgeResult> {
    return this.withLock(instanceId, async () => {
      const row = await this.readRow(instanceId);
      if (!row) return 'notFound';
      if (!isTerminal(row.runtimeStatus)) return 'notTerminal';
      await this.store.purgeInstance(instanceId);
      return 'purged';
    });
  }

  /** Purge the finished instances created in a time range (running ones are left alone). */
  async purgeWhere(q: InstanceQuery): Promise<number> {
    const terminal: RuntimeStatus[] = ['Completed', 'Failed', 'Terminated'];
    const statuses = (q.statuses?.length ? q.statuses : terminal).filter((s) => isTerminal(s));
    if (!statuses.length) return 0;
    const rows = await this.store.allInstances({ ...q, statuses });
    let n = 0;
    for (const r of rows) if ((await this.purge(r.instanceId)) === 'purged') n++;
    return n;
  }

  // ---------------------------------------------------------------- instances in memory

  private readRow(instanceId: string): Promise<InstanceRecord | undefined> {
    const inst = this.live.get(instanceId);
    return inst ? Promise.resolve(inst.row) : this.store.readInstance(instanceId);
  }

  /** Serialize starts and purges of one instance id within this process. */
  private withLock<T>(instanceId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(instanceId) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.locks.set(instanceId, next);
    void next
      .catch(() => undefined)
      .finally(() => {
        if (this.locks.get(instanceId) === next) this.locks.delete(instanceId);
      });
    return next;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    void p.catch(() => undefined).finally(() => this.running.delete(p));
    return p;
  }

  /** Write a new instance row (replacing a finished one) and start its first episode. */
  private async createInstance(
    a: { name: string; instanceId: string; input: string; version?: string; parent?: ParentLink },
    existing: InstanceRecord | undefined,
  ): Promise<InstanceRecord> {
    // Messages sent to the finished execution are discarded, as Azure does.
    if (existing) await this.store.deleteAllMessages(a.instanceId);
    const now = new Date();
    const row: InstanceRecord = {
      instanceId: a.instanceId,
      name: a.name,
      runtimeStatus: 'Pending',
      input: a.input,
      output: null,
      customStatus: null,
      failureDetails: null,
      createdTime: now,
      lastUpdatedTime: now,
      executionId: randomUUID().replace(/-/g, ''),
      historyStart: existing?.historyLength ?? 0,
      historyLength: existing?.historyLength ?? 0,
      nextTaskId: 0,
      actionCount: 0,
      consumedMessages: [],
      crashRestarts: 0,
      holder: this.mine(),
    };
    if (a.version) row.version = a.version;
    if (a.parent) row.parent = a.parent;
    // Live before the row exists, so a raiseEvent that sees the row also finds the inbox.
    const inst = new LiveInstance(row, new Execution(a.instanceId, row.executionId, a.name, [], 0, 0));
    this.live.set(a.instanceId, inst);
    try {
      row.etag = await this.store.writeInstance(row, existing?.etag);
    } catch (e) {
      if (this.live.get(a.instanceId) === inst) this.live.delete(a.instanceId);
      throw e;
    }
    if (existing)
      void this.store
        .deleteHistory(a.instanceId, existing.historyStart, existing.historyLength)
        .catch((e: Error) => this.log('warn', e.message));
    inst.inbox.unshift({ event: this.startedEvent(row) });
    inst.ready = true;
    this.drain(inst);
    return row;
  }

  /**
   * Load an unfinished instance from storage and redo whatever it was waiting for. After a host
   * crash (`afterCrash`), an instance with code to run counts one crash restart first, and one at
   * the poison limit is failed instead (see the header).
   */
  private async revive(row: InstanceRecord, afterCrash = false): Promise<void> {
    const id = row.instanceId;
    const history = await this.store.readHistory(id, row.historyStart, row.historyLength);
    const inst = new LiveInstance(
      row,
      new Execution(id, row.executionId, row.name, history, row.nextTaskId, row.actionCount),
    );
    this.live.set(id, inst);
    if (!inst.exec.started) inst.inbox.push({ event: this.startedEvent(row) });
    // Messages consumed by the last commit but not yet deleted are done: drop them.
    const consumed = new Set(row.consumedMessages);
    for (const m of consumed) inst.pendingDeletes.add(m);
    this.deletePending(inst);
    let stored: InboxMessage[];
    try {
      stored = await this.store.readMessages(id);
    } catch (e) {
      this.evict(inst);
      throw e;
    }
    // Messages sent while we were reading are already queued (sendMessage delivers to live instances).
    for (const m of consumed) inst.known.add(m);
    const waiting = stored.filter((m) => !inst.known.has(m.id)).map((m) => this.inboundFrom(m));
    for (const m of stored) inst.known.add(m.id);
    inst.inbox.splice(inst.exec.started ? 0 : 1, 0, ...waiting);
    // An activity whose result is waiting in the inbox (another host ran it, or the watchdog failed it) is done.
    const answered = new Set(
      inst.inbox.flatMap((b) =>
        (b.event.EventType === EventType.TaskCompleted || b.event.EventType === EventType.TaskFailed) &&
        b.executionId === row.executionId
          ? [b.event.TaskScheduledId]
          : [],
      ),
    );
    const outstanding = inst.exec.outstandingWork().filter((w) => w.kind !== 'activity' || !answered.has(w.taskId));
    if (afterCrash) {
      const culprit = this.blamedByWatchdog(row);
      if (culprit?.kind === 'orchestrator')
        return this.failInstance(inst, row.crashRestarts, this.watchdogReason(culprit));
      if (!(await this.countCrashRestart(inst))) return;
    }
    for (const w of outstanding) this.dispatch(inst, w);
    inst.ready = true;
    this.drain(inst);
  }

  /**
   * After a host crash: one more crash restart for an instance that had an episode to run (events
   * waiting in its inbox), committed before that code runs again. At the poison limit the instance
   * is failed instead; false then (do not resume it). Activities count their crashes on their
   * work items (claimWork), since any host may have been running them.
   */
  private async countCrashRestart(inst: LiveInstance): Promise<boolean> {
    const row = inst.row;
    const code: string[] = [];
    if (inst.inbox.length && row.runtimeStatus !== 'Suspended') code.push(`an episode of orchestrator '${row.name}'`);
    if (!code.length) return true; // waiting on timers, events or children only: the crash was not its doing
    const crashes = row.crashRestarts + 1;
    if (crashes >= POISON_AFTER_CRASHES) {
      this.log(
        'error',
        `orchestration "${inst.id}": the host stopped ${crashes} times while running ${code.join(', ')}; failing it instead of running it again`,
      );
      await this.failInstance(
        inst,
        crashes,
        `the host process stopped ${crashes} times while this instance was running ${code.join(', ')} (a crash: out of memory, a fatal error or a kill in that code); it is failed instead of being run again`,
      );
      return false;
    }
    this.log(
      'warn',
      `orchestration "${inst.id}": resumed after a host crash (${crashes} of ${POISON_AFTER_CRASHES - 1} allowed) while it ran ${code.join(', ')}`,
    );
    await this.rowWrite(inst, async () => {
      const counted: InstanceRecord = { ...inst.row, crashRestarts: crashes, holder: this.mine() };
      counted.etag = await this.store.writeInstance(counted, inst.row.etag);
      inst.row = counted;
    });
    return true;
  }

  /** The code of this instance's current execution the watchdog caught on the stack when it killed the last host. */
  private blamedByWatchdog(row: InstanceRecord): RunningCode | undefined {
    const c = this.lastStop?.culprit;
    if (!c || c.kind === 'function' || c.instanceId !== row.instanceId) return undefined;
    return c.executionId === undefined || c.executionId === row.executionId ? c : undefined;
  }

  /** Why the watchdog's blamed code fails: Azure's timeout words for a stall, the budget for memory. */
  private watchdogReason(c: RunningCode): string {
    const stop = this.lastStop!;
    const why = `the host watchdog found ${stop.detail} while this ${c.kind} ran, and restarted the host; it is failed instead of being run again`;
    return stop.cause === 'stall' && stop.functionTimeoutMs !== undefined
      ? `${new FunctionTimeoutError(c.name, stop.functionTimeoutMs).message} (${why})`
      : `${c.kind === 'activity' ? 'it' : `orchestrator '${c.name}'`} exceeded the host's memory budget: ${why}`;
  }

  /** Fail an instance without running its code again (a poison instance): history, row, parent. */
  private async failInstance(
    inst: LiveInstance,
    crashes: number,
    reason: string,
    consumed: Inbound[] = [],
  ): Promise<void> {
    const now = new Date();
    const message = `Orchestrator function '${inst.row.name}' failed: ${reason}`;
    const output = toJsonText(message);
    const details: FailureDetails = { ErrorType: 'PoisonInstance', ErrorMessage: message };
    const records: HistoryRecord[] = [
      {
        event: {
          EventType: EventType.ExecutionCompleted,
          EventId: -1,
          OrchestrationStatus: 'Failed',
          Result: output,
          FailureDetails: details,
          Timestamp: now.toISOString(),
        },
      },
    ];
    const next: InstanceRecord = {
      ...inst.row,
      runtimeStatus: 'Failed',
      output,
      failureDetails: JSON.stringify(details),
      lastUpdatedTime: now,
      crashRestarts: crashes,
    };
    await this.commit(inst, records, next, consumed);
    inst.exec.commit(records, inst.exec.nextTaskId, inst.exec.actionCount);
    this.settle(inst);
  }

  /** After a failed episode: forget the in-memory copy and reload from storage, with backoff. */
  private scheduleRevive(instanceId: string): void {
    if (this.stopping) return;
    const r = this.revivals.get(instanceId) ?? { attempts: 0 };
    clearTimeout(r.timer);
    r.attempts++;
    r.timer = setTimeout(
      () => {
        void this.acquire(instanceId)
          .then(() => this.revivals.delete(instanceId))
          .catch((e: Error) => {
            this.log('error', `orchestration "${instanceId}": reload failed (${e.message}); trying again`);
            this.scheduleRevive(instanceId);
          });
      },
      Math.min(30_000, 500 * 2 ** (r.attempts - 1)),
    );
    r.timer.unref();
    this.revivals.set(instanceId, r);
  }

  private evict(inst: LiveInstance): void {
    for (const a of inst.alarms.values()) a.cancel();
    inst.alarms.clear();
    if (this.live.get(inst.id) === inst) this.live.delete(inst.id);
  }

  private startedEvent(row: InstanceRecord): HistoryEvent {
    return {
      EventType: EventType.ExecutionStarted,
      EventId: -1,
      Name: row.name,
      Input: row.input,
      Version: row.version ?? '',
      OrchestrationInstance: { InstanceId: row.instanceId, ExecutionId: row.executionId },
      Timestamp: new Date().toISOString(),
    };
  }

  private inboundFrom(m: InboxMessage): Inbound {
    if (m.kind === 'result') {
      const r = JSON.parse(m.data) as { event: HistoryEvent; executionId?: string };
      return { event: r.event, ...(r.executionId ? { executionId: r.executionId } : {}), messageId: m.id };
    }
    if (m.kind === 'poison')
      return {
        event: { EventType: EventType.ExecutionTerminated, EventId: -1, Timestamp: m.createdTime },
        poison: String(parseJsonText(m.data)),
        messageId: m.id,
      };
    const event: HistoryEvent = {
      EventType: MESSAGE_EVENT[m.kind],
      EventId: -1,
      Input: m.data,
      Timestamp: m.createdTime,
    };
    if (m.name !== undefined) event.Name = m.name;
    return { event, messageId: m.id };
  }

  /** Persist a client message, then hand it to the running instance. */
  private async sendMessage(instanceId: string, m: Omit<InboxMessage, 'id' | 'createdTime'>): Promise<ClientOpResult> {
    const row = await this.readRow(instanceId);
    if (!row) return 'notFound';
    if (isTerminal(row.runtimeStatus)) return 'gone';
    const msg = await this.store.addMessage(instanceId, m);
    if (this.live.has(instanceId)) this.deliver(instanceId, this.inboundFrom(msg));
    else await this.wakeOwner(instanceId);
    return 'accepted';
  }

  private deliver(instanceId: string, b: Inbound): void {
    const inst = this.live.get(instanceId);
    if (!inst || (b.executionId && b.executionId !== inst.row.executionId)) return;
    if (b.messageId) {
      if (inst.known.has(b.messageId)) return;
      inst.known.add(b.messageId);
    }
    inst.inbox.push(b);
    this.drain(inst);
  }

  /**
   * The completion of work for an instance: handed over in memory when this host runs it, else
   * written to its durable inbox and its owner woken (another host's instance, or one nobody
   * holds: whoever takes it reads its inbox).
   */
  private async deliverResult(instanceId: string, b: Inbound): Promise<void> {
    if (this.live.has(instanceId)) return this.deliver(instanceId, b);
    await this.sendRemote(instanceId, {
      kind: 'result',
      data: JSON.stringify({ event: b.event, executionId: b.executionId }),
    });
  }

  private async sendRemote(instanceId: string, m: Omit<InboxMessage, 'id' | 'createdTime'>): Promise<void> {
    const msg = await this.store.addMessage(instanceId, m);
    if (this.live.has(instanceId)) this.deliver(instanceId, this.inboundFrom(msg));
    else await this.wakeOwner(instanceId);
  }

  private async wakeOwner(instanceId: string): Promise<void> {
    const h = (await this.store.readHolder(instanceId))?.holder;
    if (h && h.owner !== this.hostId) await this.store.wake(h.owner, instanceId);
    // Held by this host (taken meanwhile): it is live now, or its revive reads the inbox.
    else if (this.live.has(instanceId)) await this.refreshInbox(this.live.get(instanceId)!);
  }

  // ---------------------------------------------------------------- episodes

  private hasWork(inst: LiveInstance): boolean {
    if (this.stopping || !inst.ready || this.live.get(inst.id) !== inst) return false;
    return inst.row.runtimeStatus === 'Suspended'
      ? inst.inbox.some((b) => CONTROL.has(b.event.EventType))
      : inst.inbox.length > 0;
  }

  /** Run episodes for an instance until nothing is waiting (one drain per instance at a time). */
  private drain(inst: LiveInstance): void {
    if (inst.draining || !this.hasWork(inst)) return;
    inst.draining = true;
    const run = async () => {
      try {
        while (this.hasWork(inst)) await this.episodeSlots.run(() => this.episode(inst));
      } catch (err) {
        const why = err instanceof StrataError ? err.message : ((err as Error).stack ?? String(err));
        this.log('error', `orchestration "${inst.id}": episode failed, reloading it from storage: ${why}`);
        this.evict(inst);
        this.scheduleRevive(inst.id);
      } finally {
        inst.draining = false;
      }
      this.drain(inst); // events that arrived while the last episode was finishing
    };
    void this.track(run());
  }

  /** Events for the next episode: one control request alone, or a run of ordinary events. */
  private takeSegment(inst: LiveInstance): Inbound[] {
    const box = inst.inbox;
    if (inst.row.runtimeStatus === 'Suspended') {
      const i = box.findIndex((b) => CONTROL.has(b.event.EventType));
      return i < 0 ? [] : box.splice(i, 1);
    }
    if (box[0] && CONTROL.has(box[0].event.EventType)) return box.splice(0, 1);
    let n = 0;
    while (n < box.length && n < MAX_EVENTS_PER_EPISODE && !CONTROL.has(box[n]!.event.EventType)) n++;
    return box.splice(0, n);
  }

  private async episode(inst: LiveInstance): Promise<void> {
    if (!this.hasWork(inst)) return;
    const p = inst.inbox.findIndex((b) => b.poison !== undefined);
    if (p >= 0) {
      const [b] = inst.inbox.splice(p, 1);
      return this.failInstance(inst, POISON_AFTER_CRASHES, b!.poison!, [b!]);
    }
    const segment = this.takeSegment(inst);
    if (!segment.length) return;
    if (CONTROL.has(segment[0]!.event.EventType)) await this.controlEpisode(inst, segment[0]!);
    else await this.orchestratorEpisode(inst, segment);
  }

  /** Terminate, suspend or resume: recorded in history, the orchestrator does not run. */
  private async controlEpisode(inst: LiveInstance, b: Inbound): Promise<void> {
    const row = inst.row;
    const now = new Date();
    const ts = now.toISOString();
    const event: HistoryEvent = { ...b.event, Timestamp: ts };
    let status: RuntimeStatus;
    const records: HistoryRecord[] = [{ event }];
    const next: InstanceRecord = { ...row, lastUpdatedTime: now };
    if (event.EventType === EventType.ExecutionTerminated) {
      status = 'Terminated';
      next.output = event.Input ?? 'null';
      records.push({
        event: {
          EventType: EventType.ExecutionCompleted,
          EventId: -1,
          OrchestrationStatus: 'Terminated',
          Result: next.output,
          Timestamp: ts,
        },
      });
    } else if (event.EventType === EventType.ExecutionSuspended && row.runtimeStatus !== 'Suspended') {
      status = 'Suspended';
    } else if (event.EventType === EventType.ExecutionResumed && row.runtimeStatus === 'Suspended') {
      status = inst.exec.started ? 'Running' : 'Pending';
    } else {
      // Suspending a suspended instance or resuming a running one changes nothing.
      if (b.messageId) {
        inst.pendingDeletes.add(b.messageId);
        this.deletePending(inst);
      }
      return;
    }
    next.runtimeStatus = status;
    await this.commit(inst, records, next, [b]);
    inst.exec.commit(records, inst.exec.nextTaskId, inst.exec.actionCount);
    if (status === 'Terminated') this.settle(inst);
  }

  /** Replay history + the new events through the SDK and carry out its answer. */
  private async orchestratorEpisode(inst: LiveInstance, segment: Inbound[]): Promise<void> {
    const { exec, row } = inst;
    const seen = new Set<string>();
    const fresh = segment.filter(
      (b) => (!b.executionId || b.executionId === row.executionId) && !exec.isDuplicate(b.event, seen),
    );
    if (!fresh.length) {
      for (const b of segment) if (b.messageId) inst.pendingDeletes.add(b.messageId);
      return this.deletePending(inst);
    }
    const now = new Date();
    const ordered = exec.orderNewEvents(fresh.map((b) => ({ event: b.event })));
    const added: HistoryRecord[] = [
      { event: { EventType: EventType.OrchestratorStarted, EventId: -1, Timestamp: now.toISOString() } },
      ...ordered,
    ];
    const played = exec.history.length;
    const history = [...exec.history, ...added].map((r, i) => ({ ...r.event, IsPlayed: i < played }));

    const fn = this.app.orchestrator(row.name);
    const answer = fn
      ? await this.app.runOrchestrator(fn, {
          history,
          input: parseJsonText(row.input),
          instanceId: row.instanceId,
          executionId: row.executionId,
          parentInstanceId: row.parent?.instanceId,
        })
      : {
          ok: false as const,
          error: `the orchestrator function '${row.name}' is not registered in this app (was it renamed?)`,
        };
    this.stats.episodes++;
    const plan = exec.plan(ordered, answer, now);
    const { outcome } = plan;

    if (outcome.kind === 'continuedAsNew') {
      // A new execution of the same instance: fresh history, new input; waiting raised events carry over.
      const next: InstanceRecord = {
        ...row,
        runtimeStatus: 'Running',
        input: outcome.input,
        output: null,
        customStatus: plan.customStatus,
        failureDetails: null,
        executionId: randomUUID().replace(/-/g, ''),
        historyStart: row.historyLength,
        historyLength: row.historyLength,
        nextTaskId: 0,
        actionCount: 0,
        lastUpdatedTime: now,
      };
      await this.commit(inst, [], next, segment);
      void this.store
        .deleteHistory(row.instanceId, row.historyStart, row.historyLength)
        .catch((e: Error) => this.log('warn', e.message));
      for (const a of inst.alarms.values()) a.cancel();
      inst.alarms.clear();
      inst.exec = new Execution(row.instanceId, next.executionId, row.name, [], 0, 0);
      inst.inbox.unshift({ event: this.startedEvent(next) });
      return;
    }

    const records = [...added, ...plan.records];
    const next: InstanceRecord = {
      ...row,
      runtimeStatus: outcome.kind === 'running' ? 'Running' : outcome.kind === 'completed' ? 'Completed' : 'Failed',
      output: outcome.kind === 'completed' || outcome.kind === 'failed' ? outcome.output : null,
      failureDetails: outcome.kind === 'failed' ? JSON.stringify(outcome.details) : null,
      customStatus: plan.customStatus,
      lastUpdatedTime: now,
      nextTaskId: plan.nextTaskId,
      actionCount: plan.actionCount,
    };
    await this.commit(inst, records, next, segment);
    exec.commit(records, plan.nextTaskId, plan.actionCount);
    if (outcome.kind === 'failed') {
      this.log(
        'error',
        `${row.instanceId}: Function '${row.name} (Orchestrator)' failed with an error. Reason: ${outcome.details.ErrorMessage}. HubName: ${this.hubName}`,
      );
    }
    if (outcome.kind === 'running') for (const w of plan.work) this.dispatch(inst, w);
    else this.settle(inst);
  }

  /**
   * The commit: history rows first, then the instance row (ETag-checked) that makes them count.
   * Inbox messages the episode consumed are deleted afterwards; until that is confirmed their ids
   * stay listed in the row, so a crash in between cannot deliver them twice.
   */
  private async commit(
    inst: LiveInstance,
    records: HistoryRecord[],
    next: InstanceRecord,
    consumed: Inbound[],
  ): Promise<void> {
    const row = inst.row;
    for (const b of consumed) if (b.messageId) inst.pendingDeletes.add(b.messageId);
    await this.store.writeHistory(row.instanceId, row.executionId, row.historyLength, records);
    await this.rowWrite(inst, async () => {
      const committed: InstanceRecord = {
        ...next,
        historyLength: next.executionId === row.executionId ? row.historyLength + records.length : next.historyLength,
        consumedMessages: [...inst.pendingDeletes],
        // A commit is progress: crash restarts count from zero again (a poison instance keeps its count).
        crashRestarts: next.runtimeStatus === 'Failed' ? next.crashRestarts : 0,
        // A commit renews the lease; a finished instance has none.
        holder: isTerminal(next.runtimeStatus) ? undefined : this.mine(),
      };
      // Another host that took the instance over changed the ETag: ConflictError, the episode is dropped.
      committed.etag = await this.store.writeInstance(committed, inst.row.etag);
      inst.row = committed;
    });
    this.deletePending(inst);
  }

  private deletePending(inst: LiveInstance): void {
    const ids = [...inst.pendingDeletes];
    if (!ids.length) return;
    this.store.deleteMessages(inst.id, ids).then(
      () => ids.forEach((id) => inst.pendingDeletes.delete(id)),
      (e: Error) =>
        this.log('warn', `orchestration "${inst.id}": could not delete consumed messages yet: ${e.message}`),
    );
  }

  /** The instance finished: stop its timers, drop it from memory, tell its parent. */
  private settle(inst: LiveInstance): void {
    this.evict(inst);
    const row = inst.row;
    if (row.parent) this.notifyParent(row);
  }

  private notifyParent(child: InstanceRecord): void {
    const p = child.parent;
    if (!p) return;
    const Timestamp = new Date().toISOString();
    let event: HistoryEvent;
    if (child.runtimeStatus === 'Completed') {
      event = {
        EventType: EventType.SubOrchestrationInstanceCompleted,
        EventId: -1,
        TaskScheduledId: p.taskId,
        Result: child.output ?? 'null',
        Timestamp,
      };
    } else {
      const details: FailureDetails =
        child.runtimeStatus === 'Failed' && child.failureDetails
          ? (JSON.parse(child.failureDetails) as FailureDetails)
          : {
              ErrorType: 'OrchestrationTerminated',
              ErrorMessage: `Orchestrator function '${child.name}' was terminated: ${String(parseJsonText(child.output))}`,
            };
      event = {
        EventType: EventType.SubOrchestrationInstanceFailed,
        EventId: -1,
        TaskScheduledId: p.taskId,
        Reason: details.ErrorMessage,
        Details: details.StackTrace ?? '',
        FailureDetails: details,
        Timestamp,
      };
    }
    this.handOver(p.instanceId, { event, executionId: p.executionId });
  }

  // ---------------------------------------------------------------- work

  private dispatch(inst: LiveInstance, w: Work): void {
    const executionId = inst.row.executionId;
    if (w.kind === 'activity') {
      void this.track(
        this.queueActivity(inst.id, executionId, w).catch((e: Error) => {
          this.log(
            'error',
            `orchestration "${inst.id}": could not queue activity '${w.name}': ${e.message}; reloading it`,
          );
          this.evict(inst);
          this.scheduleRevive(inst.id);
        }),
      );
    } else if (w.kind === 'timer') {
      inst.alarms.get(w.timerId)?.cancel();
      inst.alarms.set(
        w.timerId,
        alarmAt(new Date(w.fireAt), () => {
          inst.alarms.delete(w.timerId);
          this.deliver(inst.id, {
            event: {
              EventType: EventType.TimerFired,
              EventId: -1,
              TimerId: w.timerId,
              FireAt: w.fireAt,
              Timestamp: new Date().toISOString(),
            },
            executionId,
          });
        }),
      );
    } else {
      const parent: ParentLink = { instanceId: inst.id, executionId, taskId: w.taskId };
      void this.track(
        this.startChild(parent, w).catch((e: Error) => {
          this.log(
            'error',
            `orchestration "${inst.id}": could not start sub-orchestration "${w.instanceId}": ${e.message}`,
          );
          this.childFailed(
            parent,
            e instanceof StrataError ? e.message : `could not start sub-orchestration '${w.name}': ${e.message}`,
          );
        }),
      );
    }
  }

  /** deliverResult without waiting (a parent's completion): a failure is logged; the parent's next takeover re-asks its child. */
  private handOver(instanceId: string, b: Inbound): void {
    void this.track(
      this.deliverResult(instanceId, b).catch((e: Error) =>
        this.log('error', `orchestration "${instanceId}": could not deliver a completion: ${e.message}`),
      ),
    );
  }

  /**
   * Queue a scheduled activity as a work item. Alone on the task hub, this host holds it from the
   * start and runs it at once; with other hosts, every host's claim round takes a share. An item
   * queued before (a reload) stays with whoever holds it.
   */
  private async queueActivity(
    instanceId: string,
    executionId: string,
    w: Extract<Work, { kind: 'activity' }>,
  ): Promise<void> {
    const key = workKey({ executionId, taskId: w.taskId });
    if (this.held.has(key)) return; // still running here from before a reload
    // Queued again by a reload, so its result never reached the committed history (delivered here
    // in memory, then the episode's commit failed): the item must run again, not be deleted as done.
    this.undeleted.delete(key);
    const alone = this.hosts.length <= 1;
    const item: WorkItem = { instanceId, executionId, taskId: w.taskId, name: w.name, input: w.input, crashes: 0 };
    if (alone) item.holder = this.mine();
    const created = await this.store.addWork(item);
    if (created && alone) this.runWork(item, item.etag!);
    else if (!created) void this.claimSoon();
  }

  /** A claim round now (an item queued before a restart), not at the next poll. */
  private claimSoon(): Promise<void> {
    return this.claimWork().catch((e: Error) => this.log('warn', `claiming activities failed: ${e.message}`));
  }

  /** Run an activity this host holds, renewing its lease meanwhile (tick), and hand over its result. */
  private runWork(item: WorkItem, etag: string): void {
    const key = workKey(item);
    if (this.held.has(key)) return;
    const h: HeldWork = { item, etag, lost: false, writes: Promise.resolve() };
    this.held.set(key, h);
    const { instanceId, executionId, taskId, name } = item;
    const run = this.activitySlots.run(async () => {
      if (this.stopping) return; // released at stop: another host (or the next run) takes it
      const out = await this.app.runActivity(name, item.input, { instanceId, executionId, taskId });
      if (this.stopping && !out.ok) return; // stopped midway (callHttp polling): runs again
      this.stats.activities++;
      const Timestamp = new Date().toISOString();
      let event: HistoryEvent;
      if (out.ok)
        event = {
          EventType: EventType.TaskCompleted,
          EventId: -1,
          TaskScheduledId: taskId,
          Result: out.result,
          Timestamp,
        };
      else {
        event = activityFailedEvent(name, taskId, out.failure.message, out.failure.details);
        if (out.failure.failureDetails) event.FailureDetails = out.failure.failureDetails;
        this.log(
          'error',
          `${instanceId}: Function '${name} (Activity)' failed with an error. Reason: ${event.Reason}. HubName: ${this.hubName}. TaskEventId: ${taskId}`,
        );
      }
      await this.deliverResult(instanceId, { event, executionId });
      await this.workWrite(h, async () => {
        this.undeleted.add(key);
        if (!h.lost) await this.store.deleteWork(item, h.etag);
        this.undeleted.delete(key);
        this.held.delete(key);
      });
    });
    // Not tracked: a stop does not wait for activities (a clean stop releases them to the next host).
    void run
      .catch((e: Error) =>
        this.log('error', `activity '${name}' of "${instanceId}": could not hand over its result: ${e.message}`),
      )
      .finally(() => {
        // Undelivered (a storage error): released, so a host (this one too) runs it again.
        if (this.held.get(key) !== h || this.stopping) return;
        this.held.delete(key);
        // Delivered but not deleted: claimWork deletes it later; else release it to be run again.
        if (!h.lost && !this.undeleted.has(key))
          void this.workWrite(h, () => this.store.leaseWork(item, undefined, h.etag)).catch((e: Error) =>
            this.log(
              'warn',
              `activity '${name}' of "${instanceId}": could not release it (its lease runs out): ${e.message}`,
            ),
          );
      });
  }

  private childFailed(parent: ParentLink, message: string): void {
    this.handOver(parent.instanceId, {
      event: {
        EventType: EventType.SubOrchestrationInstanceFailed,
        EventId: -1,
        TaskScheduledId: parent.taskId,
        Reason: message,
        Details: '',
        FailureDetails: { ErrorType: 'SubOrchestrationFailed', ErrorMessage: message },
        Timestamp: new Date().toISOString(),
      },
      executionId: parent.executionId,
    });
  }

  /** Create the child for a SubOrchestrationInstanceCreated event (again after a restart: then it may exist). */
  private async startChild(parent: ParentLink, w: Extract<Work, { kind: 'subOrchestration' }>): Promise<void> {
    const fn = this.app.orchestrator(w.name);
    if (!fn)
      return this.childFailed(
        parent,
        `The function '${w.name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      );
    checkInstanceId(w.instanceId);
    await this.withLock(w.instanceId, async () => {
      const existing = await this.readRow(w.instanceId);
      const ours =
        existing?.parent &&
        existing.parent.instanceId === parent.instanceId &&
        existing.parent.executionId === parent.executionId &&
        existing.parent.taskId === parent.taskId;
      if (existing && ours) {
        // Created before a restart: if it already finished, its parent may not have heard.
        if (isTerminal(existing.runtimeStatus)) this.notifyParent(existing);
        return;
      }
      if (existing && !isTerminal(existing.runtimeStatus)) {
        return this.childFailed(
          parent,
          `An orchestration instance with id '${w.instanceId}' already exists and is ${existing.runtimeStatus}.`,
        );
      }
      await this.createInstance(
        { name: fn.name, instanceId: w.instanceId, input: w.input, version: w.version, parent },
        existing,
      );
    });
  }

  /** Wait until an instance is finished (or `timeoutMs` passes); resolves with its last status. */
  async waitForCompletion(instanceId: string, timeoutMs: number, pollMs = 100): Promise<InstanceStatus | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.getStatus(instanceId);
      if (!s || isTerminal(s.runtimeStatus) || Date.now() >= deadline) return s;
      await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
    }
  }
}
