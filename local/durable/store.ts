/**
 * A task hub in Table storage, shaped like the Durable Azure Storage backend:
 *
 * - `<hub>Instances`: one row per instance (PartitionKey = instance id, RowKey = ""), its status,
 *   input/output/custom status, and the engine's commit record: which history rows belong to the
 *   current execution (`HistoryStart` <= seq < `HistoryLength`). Replacing this row (with its ETag)
 *   is the commit point of an episode; history rows past `HistoryLength` are not yet committed.
 * - `<hub>History`: one row per history event (PartitionKey = instance id, RowKey = zero-padded
 *   sequence). The same partition holds the instance's durable inbox (RowKey `msg-...`): raised
 *   events and terminate/suspend/resume requests that a crash must not lose.
 * - Blob container `<hub>-large`: values too big for a Table property; the row keeps the blob name.
 * - `<hub>Work`: what several hosts on one task hub share (local/durable/leases.ts):
 *   PartitionKey `host`: one row per host (RowKey = host id): its heartbeat and whether it stopped
 *   cleanly, so a restart knows it follows its own crash (poison detection);
 *   PartitionKey `activity`: one work item per scheduled activity (RowKey = execution id and task
 *   id), claimed by one host at a time with an ETag-guarded lease;
 *   PartitionKey `wake-<host id>`: one row per instance that host owns and that got an inbox message.
 * - An instance's owner (the host that runs its episodes) and its lease are properties of its
 *   Instances row (`Owner`, `OwnerRun`, `LeaseExpires`), so a commit renews them with the same ETag.
 */
import { randomUUID } from 'node:crypto';
import type { TableClient, TableEntity, TransactionAction } from '@azure/data-tables';
import { odata } from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';
import type { Storage } from '../../shared/azure/storage';
import { ConflictError } from '../../shared/errors';
import type { HistoryEvent, RuntimeStatus } from './protocol';
import type { RetryMark } from './protocol';
import { statusOf as statusCode } from '../../shared/azure/status';

/** A Table string property holds 32K UTF-16 characters (64 KiB); bigger values go to a blob. */
export const MAX_INLINE_CHARS = 30_000;
/** Entity group transactions take at most 100 operations and 4 MiB. */
const MAX_BATCH_OPS = 100;
const MAX_BATCH_BYTES = 3_500_000;
/** Transactions in flight at once for one write. */
const BATCH_CONCURRENCY = 4;
const SEQ_WIDTH = 10;
const MSG_PREFIX = 'msg-';
/** The RowKey of an instance row (one row per partition, like the Azure Storage backend). */
const INSTANCE_ROW = '';
const HOST_PARTITION = 'host';
const WORK_PARTITION = 'activity';
const WAKE_PREFIX = 'wake-';

/** Who holds a lease: a host, and which run of it (a restart is a new run of the same host). */
export interface LeaseHolder {
  owner: string;
  run: string;
  expires: Date;
}

/** A scheduled activity, claimable by any host on the task hub. */
export interface WorkItem {
  instanceId: string;
  executionId: string;
  taskId: number;
  name: string;
  /** JSON text. */
  input: string;
  /** Runs that ended with their host dead (not a failure of the code: a crash). */
  crashes: number;
  holder?: LeaseHolder;
  etag?: string;
}

export interface ParentLink {
  instanceId: string;
  executionId: string;
  /** The parent's task id for this sub-orchestration (TaskScheduledId of its completion event). */
  taskId: number;
}

/** The Instances row: status view and commit record of one instance. */
export interface InstanceRecord {
  instanceId: string;
  name: string;
  version?: string;
  runtimeStatus: RuntimeStatus;
  /** JSON text. */
  input: string;
  output: string | null;
  customStatus: string | null;
  /** JSON text of FailureDetails when Failed. */
  failureDetails: string | null;
  createdTime: Date;
  lastUpdatedTime: Date;
  executionId: string;
  historyStart: number;
  historyLength: number;
  /** The next task id the SDK will assign (ids consumed so far in this execution). */
  nextTaskId: number;
  /** How many SDK actions (flattened) this execution has already carried out. */
  actionCount: number;
  parent?: ParentLink;
  /**
   * Inbox messages consumed by committed episodes whose deletion is not confirmed. Messages are
   * deleted right after the commit; a crash in between leaves them here to be dropped, not redelivered.
   */
  consumedMessages: string[];
  /**
   * Host restarts after a crash while this instance had code to run (an activity or an episode),
   * since its last commit. Every commit resets it; the engine fails the instance when it reaches
   * its poison limit, so a host restart never re-crashes on the same instance forever.
   */
  crashRestarts: number;
  /** The host running this instance's episodes, and until when (undefined: nobody; take it). */
  holder?: LeaseHolder;
  etag?: string;
}

/** Bookkeeping the engine keeps beside an event (never shown to the SDK). */
export interface RecordMeta {
  retry?: RetryMark;
}

export interface HistoryRecord {
  event: HistoryEvent;
  meta?: RecordMeta;
}

/**
 * `result`: the completion of work another host ran (data: `{event, executionId}`); `poison`: an
 * activity that kept killing its host (data: the reason): the instance is failed with it.
 */
export type MessageKind = 'event' | 'terminate' | 'suspend' | 'resume' | 'result' | 'poison';
export interface InboxMessage {
  id: string;
  kind: MessageKind;
  /** Event name (kind "event"). */
  name?: string;
  /** JSON text: event data, or the reason of terminate/suspend/resume. */
  data: string;
  createdTime: string;
}

export interface InstanceQuery {
  statuses?: RuntimeStatus[];
  createdFrom?: Date;
  createdTo?: Date;
  instanceIdPrefix?: string;
}

const pad = (n: number) => String(n).padStart(SEQ_WIDTH, '0');
const asDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

/** Lease properties of a row ('' and the epoch: nobody holds it). */
function holderProps(h: LeaseHolder | undefined): Record<string, unknown> {
  return { Owner: h?.owner ?? '', OwnerRun: h?.run ?? '', LeaseExpires: h?.expires ?? new Date(0) };
}

function holderOf(e: Record<string, unknown>): LeaseHolder | undefined {
  const owner = typeof e.Owner === 'string' ? e.Owner : '';
  if (!owner) return undefined;
  return { owner, run: String(e.OwnerRun ?? ''), expires: asDate(e.LeaseExpires) };
}

export class TaskHubStore {
  readonly instancesTable: string;
  readonly historyTable: string;
  readonly largeContainer: string;
  private instances!: TableClient;
  private history!: TableClient;
  private large!: ContainerClient;
  private work!: TableClient;
  readonly workTable: string;
  private msgCounter = 0;

  constructor(
    private readonly storage: Storage,
    readonly hubName: string,
  ) {
    if (!/^[A-Za-z][A-Za-z0-9]{2,44}$/.test(hubName)) {
      throw new Error(
        `task hub name "${hubName}" is invalid: use 3-45 letters and digits starting with a letter (host.json extensions.durableTask.hubName)`,
      );
    }
    this.instancesTable = `${hubName}Instances`;
    this.historyTable = `${hubName}History`;
    this.largeContainer = `${hubName.toLowerCase()}-large`;
    this.workTable = `${hubName}Work`;
  }

  async init(): Promise<void> {
    [this.instances, this.history, this.large, this.work] = await Promise.all([
      this.storage.table(this.instancesTable),
      this.storage.table(this.historyTable),
      this.storage.container(this.largeContainer),
      this.storage.table(this.workTable),
    ]);
  }

  // ---------- large values ----------

  /** Put a JSON text in `prop` on the entity, or in a blob named by `prop + "Blob"` when it is too large. */
  private async putValue(
    entity: Record<string, unknown>,
    prop: string,
    text: string | null,
    blobName: string,
  ): Promise<void> {
    if (text === null) return;
    if (text.length <= MAX_INLINE_CHARS) {
      entity[prop] = text;
      return;
    }
    await this.large.getBlockBlobClient(blobName).upload(text, Buffer.byteLength(text));
    entity[`${prop}Blob`] = blobName;
  }

  private async getValue(entity: Record<string, unknown>, prop: string): Promise<string | null> {
    const blob = entity[`${prop}Blob`];
    if (typeof blob === 'string' && blob) {
      return (await this.large.getBlockBlobClient(blob).downloadToBuffer()).toString('utf8');
    }
    const v = entity[prop];
    return typeof v === 'string' ? v : null;
  }

  // ---------- instances ----------

  private async toInstanceEntity(r: InstanceRecord): Promise<TableEntity> {
    const e: Record<string, unknown> = {
      partitionKey: r.instanceId,
      rowKey: INSTANCE_ROW,
      InstanceId: r.instanceId,
      Name: r.name,
      RuntimeStatus: r.runtimeStatus,
      CreatedTime: r.createdTime,
      LastUpdatedTime: r.lastUpdatedTime,
      ExecutionId: r.executionId,
      HistoryStart: r.historyStart,
      HistoryLength: r.historyLength,
      NextTaskId: r.nextTaskId,
      ActionCount: r.actionCount,
      CrashRestarts: r.crashRestarts,
      ...holderProps(r.holder),
    };
    if (r.version) e.Version = r.version;
    if (r.parent) {
      e.ParentInstanceId = r.parent.instanceId;
      e.ParentExecutionId = r.parent.executionId;
      e.ParentTaskId = r.parent.taskId;
    }
    const base = `${r.instanceId}/${r.executionId}`;
    await Promise.all([
      this.putValue(e, 'Input', r.input, `${base}/input`),
      // Custom status changes per episode: one blob per commit, so a reader never sees a half-written one.
      this.putValue(e, 'Output', r.output, `${base}/output`),
      this.putValue(e, 'CustomStatus', r.customStatus, `${base}/status-${r.historyLength}`),
      this.putValue(e, 'FailureDetails', r.failureDetails, `${base}/failure`),
      this.putValue(
        e,
        'ConsumedMessages',
        r.consumedMessages.length ? JSON.stringify(r.consumedMessages) : null,
        `${base}/consumed-${r.historyLength}`,
      ),
    ]);
    return e as TableEntity;
  }

  private async fromInstanceEntity(e: Record<string, unknown>): Promise<InstanceRecord> {
    const [input, output, customStatus, failureDetails, consumed] = await Promise.all([
      this.getValue(e, 'Input'),
      this.getValue(e, 'Output'),
      this.getValue(e, 'CustomStatus'),
      this.getValue(e, 'FailureDetails'),
      this.getValue(e, 'ConsumedMessages'),
    ]);
    const r: InstanceRecord = {
      instanceId: String(e.InstanceId ?? e.partitionKey),
      name: String(e.Name),
      runtimeStatus: e.RuntimeStatus as RuntimeStatus,
      input: input ?? 'null',
      output,
      customStatus,
      failureDetails,
      createdTime: asDate(e.CreatedTime),
      lastUpdatedTime: asDate(e.LastUpdatedTime),
      executionId: String(e.ExecutionId),
      historyStart: Number(e.HistoryStart ?? 0),
      historyLength: Number(e.HistoryLength ?? 0),
      nextTaskId: Number(e.NextTaskId ?? 0),
      actionCount: Number(e.ActionCount ?? 0),
      consumedMessages: consumed ? (JSON.parse(consumed) as string[]) : [],
      crashRestarts: Number(e.CrashRestarts ?? 0),
      etag: e.etag as string | undefined,
    };
    const holder = holderOf(e);
    if (holder) r.holder = holder;
    if (typeof e.Version === 'string') r.version = e.Version;
    if (typeof e.ParentInstanceId === 'string') {
      r.parent = {
        instanceId: e.ParentInstanceId,
        executionId: String(e.ParentExecutionId),
        taskId: Number(e.ParentTaskId),
      };
    }
    return r;
  }

  async readInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    try {
      const e = await this.instances.getEntity(instanceId, INSTANCE_ROW);
      return await this.fromInstanceEntity(e as Record<string, unknown>);
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /**
   * Write an instance row: insert when `expectedEtag` is undefined (409 if it exists), else replace
   * only if nobody changed it since it was read. Returns the new ETag.
   */
  async writeInstance(r: InstanceRecord, expectedEtag: string | undefined): Promise<string> {
    const entity = await this.toInstanceEntity(r);
    try {
      const res =
        expectedEtag === undefined
          ? await this.instances.createEntity(entity)
          : await this.instances.updateEntity(entity, 'Replace', { etag: expectedEtag });
      return res.etag ?? '';
    } catch (err) {
      const code = statusCode(err);
      if (code === 409 || code === 412) {
        throw new ConflictError(
          `orchestration instance "${r.instanceId}" was changed by someone else (another start, or a second host on task hub ${this.hubName})`,
        );
      }
      throw err;
    }
  }

  // ---------- leases ----------

  /**
   * Take or renew the lease on an instance's episodes (only the lease properties change), if
   * nobody changed its row since `etag` was read. Returns the new ETag.
   */
  async leaseInstance(instanceId: string, holder: LeaseHolder | undefined, etag: string): Promise<string> {
    const e = { partitionKey: instanceId, rowKey: INSTANCE_ROW, ...holderProps(holder) };
    return this.conditional(`orchestration instance "${instanceId}"`, () =>
      this.instances.updateEntity(e, 'Merge', { etag }),
    );
  }

  /** Who holds an instance's lease (light: no values are read); undefined when it does not exist. */
  async readHolder(instanceId: string): Promise<{ holder?: LeaseHolder } | undefined> {
    try {
      const e = await this.instances.getEntity<Record<string, unknown>>(instanceId, INSTANCE_ROW, {
        queryOptions: { select: ['Owner', 'OwnerRun', 'LeaseExpires'] },
      });
      return { holder: holderOf(e) };
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Who holds each unfinished instance (light: no values are read). */
  async instanceHolders(): Promise<Array<{ instanceId: string; holder?: LeaseHolder }>> {
    const filter = `RowKey eq '' and (RuntimeStatus eq 'Pending' or RuntimeStatus eq 'Running' or RuntimeStatus eq 'Suspended')`;
    const out: Array<{ instanceId: string; holder?: LeaseHolder }> = [];
    for await (const e of this.instances.listEntities<Record<string, unknown>>({
      queryOptions: { filter, select: ['PartitionKey', 'Owner', 'OwnerRun', 'LeaseExpires'] },
    }))
      out.push({ instanceId: String(e.partitionKey), holder: holderOf(e) });
    return out;
  }

  /** A host's row: whether its last run stopped cleanly, and its heartbeat (undefined: a new host). */
  async readHost(hostId: string): Promise<{ clean: boolean; run: string; expires: Date } | undefined> {
    try {
      const e = await this.work.getEntity<Record<string, unknown>>(HOST_PARTITION, hostId);
      return { clean: e.Clean === true, run: String(e.Run ?? ''), expires: asDate(e.Expires) };
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Running (clean = false, with a heartbeat) while a host works; clean when it stopped after its episodes committed. */
  async writeHost(hostId: string, run: string, clean: boolean, expires: Date): Promise<void> {
    await this.work.upsertEntity(
      { partitionKey: HOST_PARTITION, rowKey: hostId, Run: run, Clean: clean, Expires: expires },
      'Replace',
    );
  }

  /** Hosts whose heartbeat has not expired (this one included). */
  async liveHosts(now: Date): Promise<string[]> {
    const out: string[] = [];
    for await (const e of this.work.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${HOST_PARTITION} and Clean eq false and Expires gt ${now}` },
    }))
      out.push(String(e.rowKey));
    return out;
  }

  private workKey(executionId: string, taskId: number): string {
    return `${executionId}-${pad(taskId)}`;
  }

  /** Queue an activity (held by `holder` from the start, or by nobody). False when it is queued already. */
  async addWork(w: WorkItem): Promise<boolean> {
    const e: Record<string, unknown> = {
      partitionKey: WORK_PARTITION,
      rowKey: this.workKey(w.executionId, w.taskId),
      InstanceId: w.instanceId,
      ExecutionId: w.executionId,
      TaskId: w.taskId,
      Name: w.name,
      Crashes: w.crashes,
      ...holderProps(w.holder),
    };
    await this.putValue(e, 'Input', w.input, `${w.instanceId}/${w.executionId}/work-${pad(w.taskId)}`);
    try {
      w.etag = (await this.work.createEntity(e as TableEntity)).etag;
      return true;
    } catch (err) {
      if (statusCode(err) === 409) return false;
      throw err;
    }
  }

  private async fromWorkEntity(e: Record<string, unknown>): Promise<WorkItem> {
    const w: WorkItem = {
      instanceId: String(e.InstanceId),
      executionId: String(e.ExecutionId),
      taskId: Number(e.TaskId),
      name: String(e.Name),
      input: (await this.getValue(e, 'Input')) ?? 'null',
      crashes: Number(e.Crashes ?? 0),
      etag: e.etag as string | undefined,
    };
    const holder = holderOf(e);
    if (holder) w.holder = holder;
    return w;
  }

  async readWork(executionId: string, taskId: number): Promise<WorkItem | undefined> {
    try {
      const e = await this.work.getEntity<Record<string, unknown>>(WORK_PARTITION, this.workKey(executionId, taskId));
      return await this.fromWorkEntity(e);
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Every queued activity (their inputs are read only for the ones a host takes: see readWork). */
  async listWork(): Promise<Array<Omit<WorkItem, 'input'>>> {
    const out: Array<Omit<WorkItem, 'input'>> = [];
    for await (const e of this.work.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${WORK_PARTITION}` },
    })) {
      const w: Omit<WorkItem, 'input'> = {
        instanceId: String(e.InstanceId),
        executionId: String(e.ExecutionId),
        taskId: Number(e.TaskId),
        name: String(e.Name),
        crashes: Number(e.Crashes ?? 0),
        etag: e.etag as string | undefined,
      };
      const holder = holderOf(e);
      if (holder) w.holder = holder;
      out.push(w);
    }
    return out;
  }

  /** Take or renew a work item's lease (and its crash count) if nobody changed it since `etag`. Returns the new ETag. */
  async leaseWork(w: Omit<WorkItem, 'input'>, holder: LeaseHolder | undefined, etag: string): Promise<string> {
    const e = {
      partitionKey: WORK_PARTITION,
      rowKey: this.workKey(w.executionId, w.taskId),
      Crashes: w.crashes,
      ...holderProps(holder),
    };
    return this.conditional(`activity '${w.name}' of "${w.instanceId}" (task ${w.taskId})`, () =>
      this.work.updateEntity(e, 'Merge', { etag }),
    );
  }

  /** The activity is done (its result delivered): remove it, unless someone else holds it now. */
  async deleteWork(w: Omit<WorkItem, 'input'>, etag: string): Promise<void> {
    try {
      await this.work.deleteEntity(WORK_PARTITION, this.workKey(w.executionId, w.taskId), { etag });
    } catch (err) {
      const code = statusCode(err);
      if (code !== 404 && code !== 412) throw err;
    }
  }

  /** Tell an instance's owner that its inbox has something new. */
  async wake(hostId: string, instanceId: string): Promise<void> {
    await this.work.upsertEntity({ partitionKey: `${WAKE_PREFIX}${hostId}`, rowKey: instanceId }, 'Replace');
  }

  /** The instances this host was told about since the last call (each told once). */
  async takeWakes(hostId: string): Promise<string[]> {
    const out: string[] = [];
    for await (const e of this.work.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${WAKE_PREFIX + hostId}` },
    })) {
      // Deleted before the inbox is read: a message that comes after the read wakes it again.
      await this.work.deleteEntity(String(e.partitionKey), String(e.rowKey), { etag: String(e.etag) }).catch((x) => {
        if (statusCode(x) !== 404 && statusCode(x) !== 412) throw x;
      });
      out.push(String(e.rowKey));
    }
    return out;
  }

  private async conditional(what: string, write: () => Promise<{ etag?: string }>): Promise<string> {
    try {
      return (await write()).etag ?? '';
    } catch (err) {
      const code = statusCode(err);
      if (code === 409 || code === 412 || code === 404)
        throw new ConflictError(`${what} was changed by someone else (another host on task hub ${this.hubName})`);
      throw err;
    }
  }

  /** Instances matching a filter, one page at a time (continuation tokens are opaque strings). */
  async queryInstances(
    q: InstanceQuery,
    pageSize: number,
    continuationToken?: string,
  ): Promise<{ instances: InstanceRecord[]; continuationToken?: string }> {
    const clauses: string[] = [`RowKey eq ''`];
    if (q.statuses?.length) clauses.push(`(${q.statuses.map((s) => odata`RuntimeStatus eq ${s}`).join(' or ')})`);
    if (q.createdFrom) clauses.push(odata`CreatedTime ge ${q.createdFrom}`);
    if (q.createdTo) clauses.push(odata`CreatedTime le ${q.createdTo}`);
    if (q.instanceIdPrefix) {
      // Prefix range on the PartitionKey: [prefix, prefix + U+FFFF)
      clauses.push(
        odata`PartitionKey ge ${q.instanceIdPrefix}`,
        odata`PartitionKey lt ${q.instanceIdPrefix + '\uffff'}`,
      );
    }
    const pages = this.instances
      .listEntities<Record<string, unknown>>({ queryOptions: { filter: clauses.join(' and ') } })
      .byPage({ maxPageSize: pageSize, continuationToken });
    const { value } = await pages.next();
    if (!value) return { instances: [] };
    const page = value as Array<Record<string, unknown>> & { continuationToken?: string };
    const instances = await Promise.all(page.map((e) => this.fromInstanceEntity(e)));
    return { instances, continuationToken: page.continuationToken || undefined };
  }

  /** Every instance matching a filter (all pages). */
  async allInstances(q: InstanceQuery): Promise<InstanceRecord[]> {
    const out: InstanceRecord[] = [];
    let token: string | undefined;
    do {
      const page = await this.queryInstances(q, 1000, token);
      out.push(...page.instances);
      token = page.continuationToken;
    } while (token);
    return out;
  }

  // ---------- history ----------

  private async toHistoryEntity(
    instanceId: string,
    executionId: string,
    seq: number,
    rec: HistoryRecord,
  ): Promise<TableEntity> {
    const e: Record<string, unknown> = {
      partitionKey: instanceId,
      rowKey: pad(seq),
      ExecutionId: executionId,
      EventType: rec.event.EventType,
    };
    await this.putValue(e, 'Event', JSON.stringify(rec.event), `${instanceId}/${executionId}/history-${pad(seq)}`);
    if (rec.meta?.retry) e.Meta = JSON.stringify(rec.meta);
    return e as TableEntity;
  }

  /** Append history rows for seq = start, start+1, ... (an uncommitted tail left by a crash is overwritten). */
  async writeHistory(instanceId: string, executionId: string, start: number, records: HistoryRecord[]): Promise<void> {
    if (!records.length) return;
    const entities = await Promise.all(
      records.map((r, i) => this.toHistoryEntity(instanceId, executionId, start + i, r)),
    );
    // Inserts are much faster than upserts (on Azurite); rows of an uncommitted episode are replaced on conflict.
    await this.submitBatches(entities.map((e): TransactionAction => ['create', e]));
  }

  /** The committed history of the current execution: rows start <= seq < end, in order. */
  async readHistory(instanceId: string, start: number, end: number): Promise<HistoryRecord[]> {
    if (end <= start) return [];
    const filter = odata`PartitionKey eq ${instanceId} and RowKey ge ${pad(start)} and RowKey lt ${pad(end)}`;
    const rows: Array<Record<string, unknown>> = [];
    for await (const e of this.history.listEntities<Record<string, unknown>>({ queryOptions: { filter } }))
      rows.push(e);
    rows.sort((a, b) => String(a.rowKey).localeCompare(String(b.rowKey)));
    if (rows.length !== end - start) {
      throw new Error(
        `history of "${instanceId}" is incomplete: expected ${end - start} rows from ${start}, found ${rows.length}`,
      );
    }
    return Promise.all(
      rows.map(async (e) => {
        const text = await this.getValue(e, 'Event');
        const rec: HistoryRecord = { event: JSON.parse(text ?? 'null') as HistoryEvent };
        if (typeof e.Meta === 'string') rec.meta = JSON.parse(e.Meta) as RecordMeta;
        return rec;
      }),
    );
  }

  /** Remove history rows start <= seq < end (a previous execution after continueAsNew or a restart). */
  async deleteHistory(instanceId: string, start: number, end: number): Promise<void> {
    if (end <= start) return;
    const filter = odata`PartitionKey eq ${instanceId} and RowKey ge ${pad(start)} and RowKey lt ${pad(end)}`;
    await this.deleteWhere(filter);
  }

  // ---------- inbox ----------

  /** Persist a message for an instance before acknowledging it to the caller. */
  async addMessage(instanceId: string, m: Omit<InboxMessage, 'id' | 'createdTime'>): Promise<InboxMessage> {
    const createdTime = new Date().toISOString();
    const id = `${MSG_PREFIX}${String(Date.now()).padStart(15, '0')}-${String(this.msgCounter++ % 1e6).padStart(6, '0')}-${randomUUID().slice(0, 8)}`;
    const e: Record<string, unknown> = { partitionKey: instanceId, rowKey: id, Kind: m.kind, CreatedTime: createdTime };
    if (m.name !== undefined) e.Name = m.name;
    await this.putValue(e, 'Data', m.data, `${instanceId}/inbox/${id}`);
    await this.history.createEntity(e as TableEntity);
    return { ...m, id, createdTime };
  }

  async readMessages(instanceId: string): Promise<InboxMessage[]> {
    const filter = odata`PartitionKey eq ${instanceId} and RowKey ge ${MSG_PREFIX} and RowKey lt ${'msg.'}`;
    const out: InboxMessage[] = [];
    for await (const e of this.history.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      out.push({
        id: String(e.rowKey),
        kind: e.Kind as MessageKind,
        name: typeof e.Name === 'string' ? e.Name : undefined,
        data: (await this.getValue(e, 'Data')) ?? 'null',
        createdTime: String(e.CreatedTime),
      });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async deleteMessages(instanceId: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.submitBatches(ids.map((id): TransactionAction => ['delete', { partitionKey: instanceId, rowKey: id }]));
  }

  async deleteAllMessages(instanceId: string): Promise<void> {
    await this.deleteWhere(odata`PartitionKey eq ${instanceId} and RowKey ge ${MSG_PREFIX} and RowKey lt ${'msg.'}`);
  }

  // ---------- purge ----------

  /** Delete an instance: its row first (so it stops existing at once), then history, inbox and blobs. */
  async purgeInstance(instanceId: string): Promise<void> {
    try {
      await this.instances.deleteEntity(instanceId, INSTANCE_ROW);
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    await this.deleteWhere(odata`PartitionKey eq ${instanceId}`);
    for await (const b of this.large.listBlobsFlat({ prefix: `${instanceId}/` })) {
      await this.large.deleteBlob(b.name).catch(() => undefined);
    }
  }

  // ---------- helpers ----------

  private async deleteWhere(filter: string): Promise<void> {
    const keys: Array<{ partitionKey: string; rowKey: string }> = [];
    for await (const e of this.history.listEntities<Record<string, unknown>>({
      queryOptions: { filter, select: ['PartitionKey', 'RowKey'] },
    })) {
      keys.push({ partitionKey: String(e.partitionKey), rowKey: String(e.rowKey) });
    }
    const byPartition = new Map<string, TransactionAction[]>();
    for (const k of keys) {
      const list = byPartition.get(k.partitionKey) ?? [];
      list.push(['delete', k]);
      byPartition.set(k.partitionKey, list);
    }
    for (const actions of byPartition.values()) await this.submitBatches(actions);
  }

  /**
   * Submit actions on one partition in transactions of at most 100 operations / ~3.5 MB, a few
   * at a time (their order does not matter: history rows only count once the instance row says so).
   */
  private async submitBatches(actions: TransactionAction[]): Promise<void> {
    const batches: TransactionAction[][] = [];
    let batch: TransactionAction[] = [];
    let bytes = 0;
    for (const a of actions) {
      const size = Buffer.byteLength(JSON.stringify(a[1])) + 200;
      if (batch.length >= MAX_BATCH_OPS || (batch.length && bytes + size > MAX_BATCH_BYTES)) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(a);
      bytes += size;
    }
    if (batch.length) batches.push(batch);
    let next = 0;
    const worker = async () => {
      while (next < batches.length) await this.submit(batches[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, batches.length) }, worker));
  }

  private async submit(batch: TransactionAction[]): Promise<void> {
    try {
      await this.history.submitTransaction(batch);
    } catch (err) {
      const code = statusCode(err);
      if (code === 409 && batch.every(([kind]) => kind === 'create')) {
        // Rows left by an episode that never committed: overwrite them.
        await this.history.submitTransaction(batch.map(([, e]): TransactionAction => ['upsert', e, 'Replace']));
      } else if (code === 404 && batch.every(([kind]) => kind === 'delete')) {
        // One row already gone fails the whole transaction: delete the rest one by one.
        for (const [, e] of batch) {
          await this.history.deleteEntity(e.partitionKey, e.rowKey).catch((x) => {
            if (statusCode(x) !== 404) throw x;
          });
        }
      } else {
        throw err;
      }
    }
  }
}
