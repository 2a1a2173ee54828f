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
 * Poison instances. Code that throws fails its task or instance as usual; code that kills the
 * process (a fatal V8 error, exhausted memory) would be re-run by every restart. So a host marks
 * the task hub's lease running while it works and clean when it stops; a host that starts after
 * a crash counts, per instance that had an activity or an episode to run, one crash restart
 * (reset by its next commit). At POISON_AFTER_CRASHES the instance is failed with the reason
 * instead of resumed, and the host keeps serving everything else.
 */
import { randomUUID } from 'node:crypto';
import type { FunctionsCore } from '../functions-core';
import { storageFor } from '../../shared/storage/clients';
import { ConflictError, StrataError, ValidationError } from '../../shared/errors';
import { checkName } from '../../shared/names';
import { Alarm, alarmAt } from './alarm';
import { AppFunctions } from './app-functions';
import { Execution, Work } from './execution';
import { Limiter } from './limiter';
import { EventType, FailureDetails, HistoryEvent, RuntimeStatus, isTerminal, parseJsonText, toJsonText } from './protocol';
import { InstanceStatus, historyView, statusOf } from './status';
import { HistoryRecord, InboxMessage, InstanceQuery, InstanceRecord, MessageKind, ParentLink, TaskHubStore } from './store';

export interface EngineOptions {
  core: FunctionsCore;
  storageConnection: string;
  hubName: string;
  maxConcurrentActivities: number;
  maxConcurrentOrchestrations: number;
  /** host.json functionTimeout: an activity still running after this fails its task (as Azure's timeout does). */
  functionTimeoutMs?: number;
  /** Between polls of a callHttp 202 without Retry-After (host.json durableTask.httpSettings). */
  httpAsyncSleepMs?: number;
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
  constructor(public row: InstanceRecord, public exec: Execution) {}
  get id(): string {
    return this.row.instanceId;
  }
}

const CONTROL = new Set([EventType.ExecutionTerminated, EventType.ExecutionSuspended, EventType.ExecutionResumed]);
const MESSAGE_EVENT: Record<MessageKind, EventType> = {
  event: EventType.EventRaised,
  terminate: EventType.ExecutionTerminated,
  suspend: EventType.ExecutionSuspended,
  resume: EventType.ExecutionResumed,
};
/** Enough to batch a large fan-in into a few episodes, small enough to keep one episode short. */
const MAX_EVENTS_PER_EPISODE = 500;
const ACTIVE: RuntimeStatus[] = ['Pending', 'Running', 'Suspended'];
/** Crash restarts (without a commit between them) after which an instance is failed, not resumed. */
export const POISON_AFTER_CRASHES = 3;

/** Azure Storage keys (and so instance ids) may not contain / \ # ? or control characters (shared/names.ts). */
export function checkInstanceId(id: string): void {
  checkName('instanceId', id, 'instanceId');
}

export class DurableEngine {
  readonly store: TaskHubStore;
  readonly hubName: string;
  /** Counters for tests and benchmarks. */
  readonly stats = { episodes: 0, activities: 0 };
  private readonly app: AppFunctions;
  private readonly live = new Map<string, LiveInstance>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly inflight = new Set<string>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly revivals = new Map<string, { attempts: number; timer?: NodeJS.Timeout }>();
  private readonly activitySlots: Limiter;
  private readonly episodeSlots: Limiter;
  private readonly log: NonNullable<EngineOptions['log']>;
  private stopping = false;
  private startedAt: Date | undefined;
  /** Aborts work that waits (callHttp polling) when the host stops. */
  private halt = new AbortController();

  constructor(o: EngineOptions) {
    this.hubName = o.hubName;
    this.store = new TaskHubStore(storageFor(o.storageConnection), o.hubName);
    this.app = new AppFunctions(o.core, () => ({ defaultSleepMs: o.httpAsyncSleepMs ?? 30_000, signal: this.halt.signal }), o.functionTimeoutMs);
    this.activitySlots = new Limiter(o.maxConcurrentActivities);
    this.episodeSlots = new Limiter(o.maxConcurrentOrchestrations);
    this.log = o.log ?? ((level, m) => (level === 'error' ? console.error : console.log)(`[durable] ${m}`));
  }

  /** Create the task hub's tables and pick up every instance a previous host left unfinished. */
  async start(): Promise<void> {
    this.stopping = false;
    this.halt = new AbortController();
    await this.store.init();
    const lease = await this.store.readLease();
    const afterCrash = lease !== undefined && !lease.clean;
    this.startedAt = new Date();
    await this.store.writeLease(false, this.startedAt);
    if (afterCrash) this.log('warn', `the last host on task hub ${this.hubName} (started ${lease.startedAt.toISOString()}) did not stop cleanly; counting a crash restart for each instance it was running code for`);
    const rows = await this.store.allInstances({ statuses: ACTIVE });
    const pool = new Limiter(8);
    await Promise.all(rows.map((r) => pool.run(() => this.revive(r, afterCrash).catch((e: Error) => {
      this.log('error', `could not resume orchestration "${r.instanceId}": ${e.message}`);
      this.scheduleRevive(r.instanceId);
    }))));
    if (rows.length) this.log('info', `resumed ${rows.length} unfinished orchestration(s) from task hub ${this.hubName}`);
  }

  /** Stop dispatching, let running episodes commit, forget in-memory state (storage keeps the rest). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.halt.abort(new Error('the host is stopping'));
    for (const inst of this.live.values()) for (const a of inst.alarms.values()) a.cancel();
    for (const r of this.revivals.values()) clearTimeout(r.timer);
    this.revivals.clear();
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => setTimeout(r, 10_000).unref())]);
    this.live.clear();
    // Activities still running are simply run again by the next host: a clean stop is no crash.
    if (this.startedAt) await this.store.writeLease(true, this.startedAt).catch((e: Error) => this.log('warn', `could not mark the task hub lease clean: ${e.message}`));
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
      throw new ValidationError(`The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`, [
        { where: 'functionName', problem: `no df.app.orchestration('${name}', ...) is registered` },
      ]);
    }
    const instanceId = o.instanceId ?? randomUUID().replace(/-/g, '');
    checkInstanceId(instanceId);
    return this.withLock(instanceId, async () => {
      const existing = await this.readRow(instanceId);
      if (existing && !isTerminal(existing.runtimeStatus)) {
        throw new ConflictError(`An orchestration instance with id '${instanceId}' already exists and is ${existing.runtimeStatus}; wait for it to finish, terminate it, or use another instance id.`);
      }
      return this.createInstance({ name: fn.name, instanceId, input: toJsonText(o.input), version: o.version }, existing);
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
    return this.startNew(row.name, { input, ...(withNewInstanceId ? {} : { instanceId }), ...(row.version ? { version: row.version } : {}) });
  }

  async getStatus(instanceId: string, o: StatusOptions = {}): Promise<InstanceStatus | undefined> {
    const inst = this.live.get(instanceId);
    const row = inst?.row ?? (await this.store.readInstance(instanceId));
    if (!row) return undefined;
    const status = statusOf(row, o.showInput ?? true);
    if (o.showHistory) {
      const records = inst && inst.row === row ? inst.exec.history : await this.store.readHistory(instanceId, row.historyStart, row.historyLength);
      status.historyEvents = historyView(records, o.showHistoryOutput ?? false);
    }
    return status;
  }

  async listInstances(q: InstanceQuery, o: { pageSize?: number; continuationToken?: string; showInput?: boolean } = {}):
    Promise<{ instances: InstanceStatus[]; continuationToken?: string }> {
    const page = await this.store.queryInstances(q, o.pageSize ?? 100, o.continuationToken);
    return { instances: page.instances.map((r) => statusOf(r, o.showInput ?? true)), continuationToken: page.continuationToken };
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
    void next.catch(() => undefined).finally(() => {
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
      instanceId: a.instanceId, name: a.name, runtimeStatus: 'Pending', input: a.input, output: null, customStatus: null,
      failureDetails: null, createdTime: now, lastUpdatedTime: now, executionId: randomUUID().replace(/-/g, ''),
      historyStart: existing?.historyLength ?? 0, historyLength: existing?.historyLength ?? 0,
      nextTaskId: 0, actionCount: 0, consumedMessages: [], crashRestarts: 0,
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
    if (existing) void this.store.deleteHistory(a.instanceId, existing.historyStart, existing.historyLength).catch((e: Error) => this.log('warn', e.message));
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
    const inst = new LiveInstance(row, new Execution(id, row.executionId, row.name, history, row.nextTaskId, row.actionCount));
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
    const queued = new Set(inst.inbox.map((b) => b.messageId));
    const waiting = stored.filter((m) => !consumed.has(m.id) && !queued.has(m.id)).map((m) => this.inboundFrom(m));
    inst.inbox.splice(inst.exec.started ? 0 : 1, 0, ...waiting);
    const outstanding = inst.exec.outstandingWork();
    if (afterCrash && !(await this.countCrashRestart(inst, outstanding))) return;
    for (const w of outstanding) this.dispatch(inst, w);
    inst.ready = true;
    this.drain(inst);
  }

  /**
   * After a host crash: one more crash restart for an instance that had code to run (an activity,
   * or an episode waiting in its inbox), committed before that code runs again. At the poison
   * limit the instance is failed instead; false then (do not resume it).
   */
  private async countCrashRestart(inst: LiveInstance, outstanding: Work[]): Promise<boolean> {
    const row = inst.row;
    const code = [...new Set(outstanding.flatMap((w) => (w.kind === 'activity' ? [`activity '${w.name}'`] : [])))];
    if (inst.inbox.length && row.runtimeStatus !== 'Suspended') code.push(`an episode of orchestrator '${row.name}'`);
    if (!code.length) return true; // waiting on timers, events or children only: the crash was not its doing
    const crashes = row.crashRestarts + 1;
    if (crashes >= POISON_AFTER_CRASHES) {
      this.log('error', `orchestration "${inst.id}": the host stopped ${crashes} times while running ${code.join(', ')}; failing it instead of running it again`);
      await this.failInstance(inst, crashes, `the host process stopped ${crashes} times while this instance was running ${code.join(', ')} (a crash: out of memory, a fatal error or a kill in that code); it is failed instead of being run again`);
      return false;
    }
    this.log('warn', `orchestration "${inst.id}": resumed after a host crash (${crashes} of ${POISON_AFTER_CRASHES - 1} allowed) while it ran ${code.join(', ')}`);
    const counted: InstanceRecord = { ...row, crashRestarts: crashes };
    counted.etag = await this.store.writeInstance(counted, row.etag);
    inst.row = counted;
    return true;
  }

  /** Fail an instance without running its code again (a poison instance): history, row, parent. */
  private async failInstance(inst: LiveInstance, crashes: number, reason: string): Promise<void> {
    const now = new Date();
    const message = `Orchestrator function '${inst.row.name}' failed: ${reason}`;
    const output = toJsonText(message);
    const details: FailureDetails = { ErrorType: 'PoisonInstance', ErrorMessage: message };
    const records: HistoryRecord[] = [{ event: { EventType: EventType.ExecutionCompleted, EventId: -1, OrchestrationStatus: 'Failed', Result: output, FailureDetails: details, Timestamp: now.toISOString() } }];
    const next: InstanceRecord = { ...inst.row, runtimeStatus: 'Failed', output, failureDetails: JSON.stringify(details), lastUpdatedTime: now, crashRestarts: crashes };
    await this.commit(inst, records, next, []);
    inst.exec.commit(records, inst.exec.nextTaskId, inst.exec.actionCount);
    this.settle(inst);
  }

  /** After a failed episode: forget the in-memory copy and reload from storage, with backoff. */
  private scheduleRevive(instanceId: string): void {
    if (this.stopping) return;
    const r = this.revivals.get(instanceId) ?? { attempts: 0 };
    clearTimeout(r.timer);
    r.attempts++;
    r.timer = setTimeout(() => {
      void this.store.readInstance(instanceId)
        .then((row) => (row && !isTerminal(row.runtimeStatus) && !this.stopping ? this.revive(row) : undefined))
        .then(() => this.revivals.delete(instanceId))
        .catch((e: Error) => {
          this.log('error', `orchestration "${instanceId}": reload failed (${e.message}); trying again`);
          this.scheduleRevive(instanceId);
        });
    }, Math.min(30_000, 500 * 2 ** (r.attempts - 1)));
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
      EventType: EventType.ExecutionStarted, EventId: -1, Name: row.name, Input: row.input, Version: row.version ?? '',
      OrchestrationInstance: { InstanceId: row.instanceId, ExecutionId: row.executionId }, Timestamp: new Date().toISOString(),
    };
  }

  private inboundFrom(m: InboxMessage): Inbound {
    const event: HistoryEvent = { EventType: MESSAGE_EVENT[m.kind], EventId: -1, Input: m.data, Timestamp: m.createdTime };
    if (m.name !== undefined) event.Name = m.name;
    return { event, messageId: m.id };
  }

  /** Persist a client message, then hand it to the running instance. */
  private async sendMessage(instanceId: string, m: Omit<InboxMessage, 'id' | 'createdTime'>): Promise<ClientOpResult> {
    const row = await this.readRow(instanceId);
    if (!row) return 'notFound';
    if (isTerminal(row.runtimeStatus)) return 'gone';
    const msg = await this.store.addMessage(instanceId, m);
    this.deliver(instanceId, this.inboundFrom(msg));
    return 'accepted';
  }

  private deliver(instanceId: string, b: Inbound): void {
    const inst = this.live.get(instanceId);
    if (!inst || (b.executionId && b.executionId !== inst.row.executionId)) return;
    inst.inbox.push(b);
    this.drain(inst);
  }

  // ---------------------------------------------------------------- episodes

  private hasWork(inst: LiveInstance): boolean {
    if (this.stopping || !inst.ready || this.live.get(inst.id) !== inst) return false;
    return inst.row.runtimeStatus === 'Suspended' ? inst.inbox.some((b) => CONTROL.has(b.event.EventType)) : inst.inbox.length > 0;
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
      records.push({ event: { EventType: EventType.ExecutionCompleted, EventId: -1, OrchestrationStatus: 'Terminated', Result: next.output, Timestamp: ts } });
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
    const fresh = segment.filter((b) => (!b.executionId || b.executionId === row.executionId) && !exec.isDuplicate(b.event, seen));
    if (!fresh.length) return;
    const now = new Date();
    const ordered = exec.orderNewEvents(fresh.map((b) => ({ event: b.event })));
    const added: HistoryRecord[] = [{ event: { EventType: EventType.OrchestratorStarted, EventId: -1, Timestamp: now.toISOString() } }, ...ordered];
    const played = exec.history.length;
    const history = [...exec.history, ...added].map((r, i) => ({ ...r.event, IsPlayed: i < played }));

    const fn = this.app.orchestrator(row.name);
    const answer = fn
      ? await this.app.runOrchestrator(fn, { history, input: parseJsonText(row.input), instanceId: row.instanceId, parentInstanceId: row.parent?.instanceId })
      : { ok: false as const, error: `the orchestrator function '${row.name}' is not registered in this app (was it renamed?)` };
    this.stats.episodes++;
    const plan = exec.plan(ordered, answer, now);
    const { outcome } = plan;

    if (outcome.kind === 'continuedAsNew') {
      // A new execution of the same instance: fresh history, new input; waiting raised events carry over.
      const next: InstanceRecord = {
        ...row, runtimeStatus: 'Running', input: outcome.input, output: null, customStatus: plan.customStatus, failureDetails: null,
        executionId: randomUUID().replace(/-/g, ''), historyStart: row.historyLength, historyLength: row.historyLength,
        nextTaskId: 0, actionCount: 0, lastUpdatedTime: now,
      };
      await this.commit(inst, [], next, segment);
      void this.store.deleteHistory(row.instanceId, row.historyStart, row.historyLength).catch((e: Error) => this.log('warn', e.message));
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
      this.log('error', `${row.instanceId}: Function '${row.name} (Orchestrator)' failed with an error. Reason: ${outcome.details.ErrorMessage}. HubName: ${this.hubName}`);
    }
    if (outcome.kind === 'running') for (const w of plan.work) this.dispatch(inst, w);
    else this.settle(inst);
  }

  /**
   * The commit: history rows first, then the instance row (ETag-checked) that makes them count.
   * Inbox messages the episode consumed are deleted afterwards; until that is confirmed their ids
   * stay listed in the row, so a crash in between cannot deliver them twice.
   */
  private async commit(inst: LiveInstance, records: HistoryRecord[], next: InstanceRecord, consumed: Inbound[]): Promise<void> {
    const row = inst.row;
    for (const b of consumed) if (b.messageId) inst.pendingDeletes.add(b.messageId);
    await this.store.writeHistory(row.instanceId, row.executionId, row.historyLength, records);
    const committed: InstanceRecord = {
      ...next,
      historyLength: next.executionId === row.executionId ? row.historyLength + records.length : next.historyLength,
      consumedMessages: [...inst.pendingDeletes],
      // A commit is progress: crash restarts count from zero again (a poison instance keeps its count).
      crashRestarts: next.runtimeStatus === 'Failed' ? next.crashRestarts : 0,
    };
    committed.etag = await this.store.writeInstance(committed, row.etag);
    inst.row = committed;
    this.deletePending(inst);
  }

  private deletePending(inst: LiveInstance): void {
    const ids = [...inst.pendingDeletes];
    if (!ids.length) return;
    this.store.deleteMessages(inst.id, ids).then(
      () => ids.forEach((id) => inst.pendingDeletes.delete(id)),
      (e: Error) => this.log('warn', `orchestration "${inst.id}": could not delete consumed messages yet: ${e.message}`),
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
      event = { EventType: EventType.SubOrchestrationInstanceCompleted, EventId: -1, TaskScheduledId: p.taskId, Result: child.output ?? 'null', Timestamp };
    } else {
      const details: FailureDetails = child.runtimeStatus === 'Failed' && child.failureDetails
        ? (JSON.parse(child.failureDetails) as FailureDetails)
        : { ErrorType: 'OrchestrationTerminated', ErrorMessage: `Orchestrator function '${child.name}' was terminated: ${String(parseJsonText(child.output))}` };
      event = { EventType: EventType.SubOrchestrationInstanceFailed, EventId: -1, TaskScheduledId: p.taskId, Reason: details.ErrorMessage, Details: details.StackTrace ?? '', FailureDetails: details, Timestamp };
    }
    this.deliver(p.instanceId, { event, executionId: p.executionId });
  }

  // ---------------------------------------------------------------- work

  private dispatch(inst: LiveInstance, w: Work): void {
    const executionId = inst.row.executionId;
    if (w.kind === 'activity') {
      this.runActivity(inst.id, executionId, w);
    } else if (w.kind === 'timer') {
      inst.alarms.get(w.timerId)?.cancel();
      inst.alarms.set(w.timerId, alarmAt(new Date(w.fireAt), () => {
        inst.alarms.delete(w.timerId);
        this.deliver(inst.id, {
          event: { EventType: EventType.TimerFired, EventId: -1, TimerId: w.timerId, FireAt: w.fireAt, Timestamp: new Date().toISOString() },
          executionId,
        });
      }));
    } else {
      const parent: ParentLink = { instanceId: inst.id, executionId, taskId: w.taskId };
      void this.track(this.startChild(parent, w).catch((e: Error) => {
        this.log('error', `orchestration "${inst.id}": could not start sub-orchestration "${w.instanceId}": ${e.message}`);
        this.childFailed(parent, e instanceof StrataError ? e.message : `could not start sub-orchestration '${w.name}': ${e.message}`);
      }));
    }
  }

  private runActivity(instanceId: string, executionId: string, w: Extract<Work, { kind: 'activity' }>): void {
    const key = `${instanceId}\n${executionId}\n${w.taskId}`;
    if (this.inflight.has(key)) return; // still running from before a reload: its result will come
    this.inflight.add(key);
    void this.activitySlots.run(async () => {
      if (this.stopping) return; // runs again when the next host resumes the instance
      const out = await this.app.runActivity(w.name, w.input, instanceId);
      if (this.stopping && !out.ok) return; // stopped midway (callHttp polling): runs again on resume
      this.stats.activities++;
      const Timestamp = new Date().toISOString();
      let event: HistoryEvent;
      if (out.ok) event = { EventType: EventType.TaskCompleted, EventId: -1, TaskScheduledId: w.taskId, Result: out.result, Timestamp };
      else {
        // The extension's TaskFailed: Reason and Details; FailureDetails only as the SDK sent them.
        const reason = `Activity function '${w.name}' failed: ${out.failure.message}`;
        event = { EventType: EventType.TaskFailed, EventId: -1, TaskScheduledId: w.taskId, Timestamp, Reason: reason, Details: out.failure.details };
        if (out.failure.failureDetails) event.FailureDetails = out.failure.failureDetails;
        this.log('error', `${instanceId}: Function '${w.name} (Activity)' failed with an error. Reason: ${reason}. HubName: ${this.hubName}. TaskEventId: ${w.taskId}`);
      }
      this.deliver(instanceId, { event, executionId });
    }).finally(() => this.inflight.delete(key));
  }

  private childFailed(parent: ParentLink, message: string): void {
    this.deliver(parent.instanceId, {
      event: {
        EventType: EventType.SubOrchestrationInstanceFailed, EventId: -1, TaskScheduledId: parent.taskId, Reason: message, Details: '',
        FailureDetails: { ErrorType: 'SubOrchestrationFailed', ErrorMessage: message }, Timestamp: new Date().toISOString(),
      },
      executionId: parent.executionId,
    });
  }

  /** Create the child for a SubOrchestrationInstanceCreated event (again after a restart: then it may exist). */
  private async startChild(parent: ParentLink, w: Extract<Work, { kind: 'subOrchestration' }>): Promise<void> {
    const fn = this.app.orchestrator(w.name);
    if (!fn) return this.childFailed(parent, `The function '${w.name}' doesn't exist, is disabled, or is not an orchestrator function.`);
    checkInstanceId(w.instanceId);
    await this.withLock(w.instanceId, async () => {
      const existing = await this.readRow(w.instanceId);
      const ours = existing?.parent && existing.parent.instanceId === parent.instanceId
        && existing.parent.executionId === parent.executionId && existing.parent.taskId === parent.taskId;
      if (existing && ours) {
        // Created before a restart: if it already finished, its parent may not have heard.
        if (isTerminal(existing.runtimeStatus)) this.notifyParent(existing);
        return;
      }
      if (existing && !isTerminal(existing.runtimeStatus)) {
        return this.childFailed(parent, `An orchestration instance with id '${w.instanceId}' already exists and is ${existing.runtimeStatus}.`);
      }
      await this.createInstance({ name: fn.name, instanceId: w.instanceId, input: w.input, version: w.version, parent }, existing);
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
