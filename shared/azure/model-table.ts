/**
 * The model registry's models in an Azure Table and Blob (the ModelStore of
 * serving/model-store.ts).
 *
 * Table `strataModels`: one partition per model holds its state row (RowKey `model`, with the
 * count of history rows), its version rows (`v` + 10-digit version), its history rows (`h` +
 * 10-digit sequence) and its content claims (`x` + sha256: registry.ts contentClaimKey), so
 * every change is one entity-group transaction guarded by the state row's ETag; a lost race is
 * read and computed again (concurrency/retry-on-conflict.ts), up to 10 times. Signatures and
 * checks can exceed one property and are split (large-property.ts) as `signature_n`,
 * `signature_0`, ... as they always were. Artifacts are blobs in container `models`, named by the registry (`{model}/{sha256}.onnx`).
 */
import type { TableClient, TableEntityResult, TransactionAction } from '@azure/data-tables';
import { ConflictError } from '../errors';
import type { ArtifactCheck } from '../serving/artifact-check';
import type { ModelChange, ModelStore, ModelUpdateResult } from '../serving/model-store';
import type {
  ArtifactRef,
  HistoryAction,
  HistoryEntry,
  ModelState,
  ModelVersion,
  TrafficPolicy,
} from '../serving/registry';
import { SignatureSchema } from '../serving/signature';
import { LOST_RACE, retryOnConflict } from '../concurrency/retry-on-conflict';
import { packJson, unpackJson, type PropertyLayout } from './large-property';
import { isNotFound, isTaken } from './status';
import type { Storage } from './storage';

export const MODEL_TABLE = 'strataModels';
export const MODEL_CONTAINER = 'models';
const STATE_RK = 'model';
const MAX_ATTEMPTS = 10;
const versionRk = (v: number) => `v${String(v).padStart(10, '0')}`;
const historyRk = (seq: number) => `h${String(seq).padStart(10, '0')}`;
const layout = (name: string): PropertyLayout => ({ count: `${name}_n`, part: (i) => `${name}_${i}` });

type Entity = Record<string, unknown>;

export class ModelTable implements ModelStore {
  private readonly tableName: string;
  private readonly containerName: string;

  /** Synchronous (serving starts without awaiting): the table and container are made on first use. */
  constructor(
    private readonly storage: Storage,
    opts: { table?: string; container?: string } = {},
  ) {
    this.tableName = opts.table ?? MODEL_TABLE;
    this.containerName = opts.container ?? MODEL_CONTAINER;
  }

  private table(): Promise<TableClient> {
    return this.storage.table(this.tableName);
  }

  async models(): Promise<ModelState[]> {
    const out: ModelState[] = [];
    for await (const e of (await this.table()).listEntities<Entity>({
      queryOptions: { filter: `RowKey eq '${STATE_RK}'` },
    }))
      out.push(stateFrom(e));
    return out;
  }

  async state(model: string): Promise<{ state: ModelState; historyCount: number } | undefined> {
    const row = await this.stateRow(model);
    return row && { state: row.state, historyCount: row.seq };
  }

  async createState(state: ModelState): Promise<void> {
    try {
      await (await this.table()).createEntity(stateEntity(state, 0));
    } catch (e) {
      if (!isTaken(e)) throw e; // someone else created it first: fine
    }
  }

  update(model: string, change: ModelChange): Promise<ModelUpdateResult> {
    return retryOnConflict<ModelUpdateResult>(
      async () => {
        const current = await this.stateRow(model);
        if (!current) return 'missing';
        const u = change(structuredClone(current.state), current.seq);
        if (!u) return { state: current.state };
        const actions: TransactionAction[] = [
          ['update', stateEntity(u.state, current.seq + u.history.length), 'Replace', { etag: current.etag }],
        ];
        if (u.version) actions.push(['create', versionEntity(u.version)]);
        if (u.claim) actions.push(['create', { partitionKey: model, rowKey: u.claim.key, version: u.claim.version }]);
        for (const h of u.history) actions.push(['create', historyEntity(model, h)]);
        try {
          await (await this.table()).submitTransaction(actions);
          return { state: u.state };
        } catch (e) {
          if (!isTaken(e)) throw e;
        }
        // Someone else changed the model first; if it was the same content, its claim says so.
        const claimed = u.claim && (await this.claim(model, u.claim.key));
        return claimed !== undefined ? { claimed } : LOST_RACE;
      },
      {
        attempts: MAX_ATTEMPTS,
        exhausted: () => new ConflictError(`model ${model} is being changed by others at the same time; try again`),
      },
    );
  }

  async claim(model: string, key: string): Promise<number | undefined> {
    const e = await this.get(model, key);
    return e && Number(e.version);
  }

  async versions(model: string): Promise<ModelVersion[]> {
    return (await this.list(`PartitionKey eq '${model}' and RowKey ge 'v' and RowKey lt 'w'`)).map(versionFrom);
  }

  async version(model: string, version: number): Promise<ModelVersion | undefined> {
    const e = await this.get(model, versionRk(version));
    return e && versionFrom(e);
  }

  async history(model: string): Promise<HistoryEntry[]> {
    return (await this.list(`PartitionKey eq '${model}' and RowKey ge 'h' and RowKey lt 'i'`)).map(historyFrom);
  }

  async putArtifact(ref: ArtifactRef, bytes: Uint8Array, meta: { model: string }): Promise<void> {
    const container = await this.storage.container(this.containerName);
    await container.getBlockBlobClient(ref.blob).uploadData(bytes, {
      blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      metadata: { model: meta.model, sha256: ref.sha256 },
    });
  }

  async readArtifact(ref: ArtifactRef): Promise<Buffer> {
    const container = await this.storage.container(this.containerName);
    return container.getBlockBlobClient(ref.blob).downloadToBuffer();
  }

  // -------------------------------------------------------------------------------------------

  private async stateRow(model: string): Promise<{ state: ModelState; etag: string; seq: number } | undefined> {
    const e = await this.get(model, STATE_RK);
    return e && { state: stateFrom(e), etag: e.etag, seq: Number(e.historySeq ?? 0) };
  }

  private async get(pk: string, rk: string): Promise<TableEntityResult<Entity> | undefined> {
    try {
      return await (await this.table()).getEntity<Entity>(pk, rk);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  private async list(filter: string): Promise<Entity[]> {
    const out: Entity[] = [];
    for await (const e of (await this.table()).listEntities<Entity>({ queryOptions: { filter } })) out.push(e);
    return out;
  }
}

// -- rows -------------------------------------------------------------------------------------

function stateEntity(s: ModelState, historySeq: number) {
  return {
    partitionKey: s.model,
    rowKey: STATE_RK,
    model: s.model,
    latestVersion: s.latestVersion,
    historySeq,
    aliases: JSON.stringify(s.aliases),
    traffic: JSON.stringify(s.traffic),
    productionHistory: JSON.stringify(s.productionHistory),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    ...(s.description !== undefined ? { description: s.description } : {}),
  };
}

function stateFrom(e: Entity): ModelState {
  return {
    model: String(e.model),
    latestVersion: Number(e.latestVersion),
    aliases: JSON.parse(String(e.aliases)),
    traffic: JSON.parse(String(e.traffic)),
    productionHistory: JSON.parse(String(e.productionHistory)),
    createdAt: Number(e.createdAt),
    updatedAt: Number(e.updatedAt),
    ...(typeof e.description === 'string' ? { description: e.description } : {}),
  };
}

function versionEntity(v: ModelVersion) {
  return {
    partitionKey: v.model,
    rowKey: versionRk(v.version),
    model: v.model,
    version: v.version,
    blob: v.artifact.blob,
    sha256: v.artifact.sha256,
    bytes: v.artifact.bytes,
    createdAt: v.createdAt,
    tags: JSON.stringify(v.tags),
    ...packJson(v.signature, layout('signature')),
    ...packJson(v.check, layout('check')),
    ...(v.description !== undefined ? { description: v.description } : {}),
  };
}

function versionFrom(e: Entity): ModelVersion {
  return {
    model: String(e.model),
    version: Number(e.version),
    artifact: { blob: String(e.blob), sha256: String(e.sha256), bytes: Number(e.bytes) },
    // Stored signatures were validated at registration; parse again to apply defaults of newer schemas.
    signature: SignatureSchema.parse(unpackJson(e, layout('signature'))),
    tags: JSON.parse(String(e.tags ?? '{}')),
    createdAt: Number(e.createdAt),
    check: unpackJson(e, layout('check')) as ArtifactCheck,
    ...(typeof e.description === 'string' ? { description: e.description } : {}),
  };
}

function historyEntity(model: string, h: HistoryEntry) {
  return {
    partitionKey: model,
    rowKey: historyRk(h.seq),
    seq: h.seq,
    at: h.at,
    action: h.action,
    ...(h.alias !== undefined ? { alias: h.alias } : {}),
    ...(h.from !== undefined ? { from: h.from } : {}),
    ...(h.to !== undefined ? { to: h.to } : {}),
    ...(h.traffic !== undefined ? { traffic: JSON.stringify(h.traffic) } : {}),
  };
}

function historyFrom(e: Entity): HistoryEntry {
  return {
    seq: Number(e.seq),
    at: Number(e.at),
    action: String(e.action) as HistoryAction,
    ...(e.alias !== undefined ? { alias: String(e.alias) } : {}),
    ...(e.from !== undefined ? { from: Number(e.from) } : {}),
    ...(e.to !== undefined ? { to: Number(e.to) } : {}),
    ...(e.traffic !== undefined ? { traffic: JSON.parse(String(e.traffic)) as TrafficPolicy } : {}),
  };
}
