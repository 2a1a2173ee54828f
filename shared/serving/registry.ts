/**
 * The model registry (MLflow's vocabulary): models, immutable numbered versions (ONNX
 * artifact in Blob, signature, the registration check), aliases (`production`, `canary`,
 * `shadow`, `shadow-*` or any name), a traffic policy, and a history of every change.
 *
 * One Table partition per model holds its state row, version rows and history rows,
 * so every change is one atomic transaction guarded by the state row's ETag.
 * Artifacts are content-addressed blobs (`{model}/{sha256}.onnx`). A registration also claims
 * its content (artifact hash + signature) with a row in the same transaction, so the same file
 * registered many times at once gives one version: the losers find the claim and answer it.
 */
import { createHash } from 'node:crypto';
import type { TableClient, TableEntityResult, TransactionAction } from '@azure/data-tables';
import { ConflictError, DependencyError, NotFoundError, ValidationError, detailsFromZod } from '../errors';
import type { Storage } from '../storage/clients';
import { checkName } from '../names';
import { own } from '../own';
import { checkArtifact, type ArtifactCheck } from './artifact-check';
import { SignatureSchema, type ModelSignature } from './signature';

export const PRODUCTION = 'production';
export const CANARY = 'canary';
/** Aliases named `shadow` or `shadow-...` get a copy of production traffic and never answer. */
export const isShadowAlias = (alias: string): boolean => alias === 'shadow' || alias.startsWith('shadow-');

/** Percent of live (non-shadow) traffic per alias; sums to 100, resolution 0.01 (one routing bucket). */
export interface TrafficPolicy {
  production: number;
  canary: number;
}
export const FULL_PRODUCTION: TrafficPolicy = Object.freeze({ production: 100, canary: 0 });

export interface ArtifactRef {
  blob: string;
  sha256: string;
  bytes: number;
}

export interface ModelVersion {
  model: string;
  version: number;
  artifact: ArtifactRef;
  signature: ModelSignature;
  description?: string;
  tags: Record<string, string>;
  createdAt: number;
  /** What the registration check saw: tensors and the sample run. */
  check: ArtifactCheck;
}

export interface ModelState {
  model: string;
  description?: string;
  latestVersion: number;
  aliases: Record<string, number>;
  traffic: TrafficPolicy;
  /** Production versions in the order they took over; rollback pops the last. */
  productionHistory: number[];
  createdAt: number;
  updatedAt: number;
}

export type HistoryAction = 'register' | 'alias' | 'traffic' | 'promote' | 'rollback';
export interface HistoryEntry {
  seq: number;
  at: number;
  action: HistoryAction;
  alias?: string;
  /** Version the alias pointed to before (absent = unset). */
  from?: number;
  /** Version it points to after (absent = unset). */
  to?: number;
  traffic?: TrafficPolicy;
}

export interface RegisterInput {
  artifact: Uint8Array;
  /** Validated here: raw JSON from a request is fine. */
  signature: unknown;
  description?: string;
  tags?: Record<string, string>;
}

const STATE_RK = 'model';
/** RowKey of a content claim: `x` + sha256(artifact sha256, signature); holds the version it made. */
const claimRk = (sha256: string, signature: string) => `x${createHash('sha256').update(`${sha256}\n${signature}`).digest('hex')}`;
const MAX_PRODUCTION_HISTORY = 100;
const versionRk = (v: number) => `v${String(v).padStart(10, '0')}`;
const historyRk = (seq: number) => `h${String(seq).padStart(10, '0')}`;

export interface RegistryOptions {
  table?: string;
  container?: string;
  now?: () => number;
}

export class ModelRegistry {
  private readonly tableName: string;
  private readonly containerName: string;
  private readonly now: () => number;

  constructor(private readonly storage: Storage, opts: RegistryOptions = {}) {
    this.tableName = opts.table ?? 'strataModels';
    this.containerName = opts.container ?? 'models';
    this.now = opts.now ?? Date.now;
  }

  /**
   * Register a new version: validate the signature, load and run the model once, upload
   * the artifact, commit the version. Registering the same bytes with the same signature
   * again returns the existing version (`created: false`), so a retried publish is harmless.
   */
  async register(model: string, input: RegisterInput): Promise<{ version: ModelVersion; created: boolean }> {
    checkModelName(model);
    const parsed = SignatureSchema.safeParse(input.signature);
    if (!parsed.success) {
      throw new ValidationError(`model ${model}: the signature is not valid`, detailsFromZod(parsed.error.issues, 'signature'));
    }
    const signature = parsed.data;
    const sha256 = createHash('sha256').update(input.artifact).digest('hex');
    const sameSig = stableStringify(signature);
    const claim = claimRk(sha256, sameSig);
    const claimed = await this.claimedVersion(model, claim);
    if (claimed !== undefined) return { version: await this.getVersion(model, claimed), created: false };
    // Versions registered before content claims existed: found by comparing.
    const existing = (await this.tryState(model)) ? await this.listVersions(model) : [];
    const twin = existing.find((v) => v.artifact.sha256 === sha256 && stableStringify(v.signature) === sameSig);
    if (twin) return { version: twin, created: false };

    const check = await checkArtifact(model, input.artifact, signature);
    const artifact: ArtifactRef = { blob: `${model}/${sha256}.onnx`, sha256, bytes: input.artifact.byteLength };
    const container = await this.storage.container(this.containerName);
    await container.getBlockBlobClient(artifact.blob).uploadData(input.artifact, {
      blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      metadata: { model, sha256 },
    });

    await this.ensureState(model, input.description);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let registered: ModelVersion | undefined;
      const r = await this.tryMutate(model, (state) => {
        const version = state.latestVersion + 1;
        state.latestVersion = version;
        registered = {
          model, version, artifact, signature, tags: input.tags ?? {}, createdAt: this.now(), check,
          ...(input.description !== undefined ? { description: input.description } : {}),
        };
        const claimRow = { partitionKey: model, rowKey: claim, version };
        return { history: [{ action: 'register', to: version }], extra: [['create', versionEntity(registered)], ['create', claimRow]] };
      });
      if (r !== 'conflict') return { version: registered!, created: true };
      // Someone else changed the model first; if it was the same registration, its claim says so.
      const won = await this.claimedVersion(model, claim);
      if (won !== undefined) return { version: await this.getVersion(model, won), created: false };
      await backoff(attempt);
    }
    throw new ConflictError(`model ${model} is being changed by others at the same time; try again`);
  }

  /** The version a content claim made, if the content was registered. */
  private async claimedVersion(model: string, claim: string): Promise<number | undefined> {
    try {
      const e = await (await this.table()).getEntity<Record<string, unknown>>(model, claim);
      return Number(e.version);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async listModels(): Promise<ModelState[]> {
    const t = await this.table();
    const out: ModelState[] = [];
    for await (const e of t.listEntities<Record<string, unknown>>({ queryOptions: { filter: `RowKey eq '${STATE_RK}'` } })) {
      out.push(stateFrom(e));
    }
    return out.sort((a, b) => a.model.localeCompare(b.model));
  }

  async getModel(model: string): Promise<ModelState> {
    checkModelName(model);
    const s = await this.tryState(model);
    if (!s) throw new NotFoundError(`model ${model} is not registered (POST /api/models/${model}/versions registers its first version)`);
    return s.state;
  }

  async listVersions(model: string): Promise<ModelVersion[]> {
    const t = await this.table();
    const out: ModelVersion[] = [];
    const filter = `PartitionKey eq '${model}' and RowKey ge 'v' and RowKey lt 'w'`;
    for await (const e of t.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) out.push(versionFrom(e));
    return out;
  }

  async getVersion(model: string, version: number): Promise<ModelVersion> {
    const t = await this.table();
    try {
      return versionFrom(await t.getEntity<Record<string, unknown>>(model, versionRk(version)));
    } catch (e) {
      if (statusOf(e) === 404) throw new NotFoundError(`model ${model} has no version ${version}`);
      throw e;
    }
  }

  /** The ONNX bytes of a version, checked against the sha256 recorded at registration. */
  async readArtifact(ref: ArtifactRef): Promise<Uint8Array> {
    const container = await this.storage.container(this.containerName);
    const buf = await container.getBlockBlobClient(ref.blob).downloadToBuffer();
    const sha = createHash('sha256').update(buf).digest('hex');
    if (sha !== ref.sha256) throw new DependencyError(`artifact ${ref.blob} is corrupt: sha256 ${sha}, registered ${ref.sha256}`);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  async history(model: string, limit = 100): Promise<HistoryEntry[]> {
    const t = await this.table();
    const out: HistoryEntry[] = [];
    const filter = `PartitionKey eq '${model}' and RowKey ge 'h' and RowKey lt 'i'`;
    for await (const e of t.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) out.push(historyFrom(e));
    return out.slice(-limit);
  }

  /** Point an alias at a version, or remove it (version null). */
  async setAlias(model: string, alias: string, version: number | null): Promise<ModelState> {
    checkAliasName(alias);
    if (version !== null) await this.getVersion(model, version);
    return this.mutate(model, (s) => {
      const from = own(s.aliases, alias);
      if (from === (version ?? undefined)) return { history: [] };
      if (version === null) {
        if (alias === PRODUCTION) {
          throw new ConflictError(`model ${model}: the production alias cannot be removed; point it at another version or roll back`);
        }
        delete s.aliases[alias];
        const history: HistoryDraft[] = [{ action: 'alias', alias, from }];
        if (alias === CANARY && s.traffic.canary > 0) {
          s.traffic = { ...FULL_PRODUCTION };
          history.push({ action: 'traffic', traffic: s.traffic });
        }
        return { history };
      }
      s.aliases[alias] = version;
      if (alias === PRODUCTION) pushProduction(s, version);
      return { history: [{ action: 'alias', alias, from, to: version }] };
    });
  }

  async setTraffic(model: string, traffic: TrafficPolicy): Promise<ModelState> {
    checkTraffic(model, traffic);
    return this.mutate(model, (s) => {
      if (traffic.canary > 0 && s.aliases[CANARY] === undefined) {
        throw new ConflictError(`model ${model} has no canary version to send ${traffic.canary}% to; set the canary alias first`, [
          { where: 'aliases.canary', problem: `unset; POST /api/models/${model}/aliases {"alias":"canary","version":<n>}` },
        ]);
      }
      if (traffic.production > 0 && s.aliases[PRODUCTION] === undefined) {
        throw new ConflictError(`model ${model} has no production version to send ${traffic.production}% to; set the production alias first`);
      }
      if (s.traffic.production === traffic.production && s.traffic.canary === traffic.canary) return { history: [] };
      s.traffic = { production: traffic.production, canary: traffic.canary };
      return { history: [{ action: 'traffic', traffic: s.traffic }] };
    });
  }

  /** The canary becomes production; the canary alias is removed and traffic goes 100% to production. */
  async promote(model: string): Promise<ModelState> {
    return this.mutate(model, (s) => {
      const canary = s.aliases[CANARY];
      if (canary === undefined) throw new ConflictError(`model ${model} has no canary version to promote`);
      const from = s.aliases[PRODUCTION];
      s.aliases[PRODUCTION] = canary;
      delete s.aliases[CANARY];
      pushProduction(s, canary);
      s.traffic = { ...FULL_PRODUCTION };
      return { history: [{ action: 'promote', alias: PRODUCTION, from, to: canary, traffic: s.traffic }] };
    });
  }

  /** Production goes back to the version that was production before the current one. */
  async rollback(model: string): Promise<ModelState> {
    return this.mutate(model, (s) => {
      const current = s.aliases[PRODUCTION];
      if (current === undefined || s.productionHistory.length < 2) {
        throw new ConflictError(`model ${model} has no previous production version to roll back to`, [
          { where: 'productionHistory', problem: `production has been ${s.productionHistory.length ? `only version ${s.productionHistory.join(', ')}` : 'unset'}` },
        ]);
      }
      s.productionHistory.pop();
      const previous = s.productionHistory[s.productionHistory.length - 1]!;
      s.aliases[PRODUCTION] = previous;
      const history: HistoryDraft[] = [{ action: 'rollback', alias: PRODUCTION, from: current, to: previous }];
      if (s.aliases[CANARY] === previous) {
        delete s.aliases[CANARY];
        s.traffic = { ...FULL_PRODUCTION };
        history.push({ action: 'alias', alias: CANARY, from: previous }, { action: 'traffic', traffic: s.traffic });
      }
      return { history };
    });
  }

  // -- storage --------------------------------------------------------------------------

  private table(): Promise<TableClient> {
    return this.storage.table(this.tableName);
  }

  private async tryState(model: string): Promise<{ state: ModelState; etag: string; seq: number } | undefined> {
    const t = await this.table();
    try {
      const e = await t.getEntity<Record<string, unknown>>(model, STATE_RK);
      return { state: stateFrom(e), etag: e.etag, seq: Number(e.historySeq ?? 0) };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  private async ensureState(model: string, description: string | undefined): Promise<void> {
    if (await this.tryState(model)) return;
    const now = this.now();
    const state: ModelState = {
      model, latestVersion: 0, aliases: {}, traffic: { ...FULL_PRODUCTION }, productionHistory: [], createdAt: now, updatedAt: now,
      ...(description !== undefined ? { description } : {}),
    };
    try {
      await (await this.table()).createEntity(stateEntity(state, 0));
    } catch (e) {
      if (statusOf(e) !== 409) throw e; // someone else created it first: fine
    }
  }

  /**
   * Read-modify-write of a model's state in one transaction with its history rows (and
   * `extra` rows), guarded by the state row's ETag; retried when someone else won.
   */
  private async mutate(
    model: string,
    change: (s: ModelState) => { history: HistoryDraft[]; extra?: TransactionAction[] },
  ): Promise<ModelState> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const r = await this.tryMutate(model, change);
      if (r !== 'conflict') return r;
      await backoff(attempt);
    }
    throw new ConflictError(`model ${model} is being changed by others at the same time; try again`);
  }

  /** One attempt of mutate: the new state, or 'conflict' when the state row (or a created row) changed first. */
  private async tryMutate(
    model: string,
    change: (s: ModelState) => { history: HistoryDraft[]; extra?: TransactionAction[] },
  ): Promise<ModelState | 'conflict'> {
    checkModelName(model);
    const t = await this.table();
    const current = await this.tryState(model);
    if (!current) throw new NotFoundError(`model ${model} is not registered (POST /api/models/${model}/versions registers its first version)`);
    const next = structuredClone(current.state);
    const { history, extra = [] } = change(next);
    if (!history.length) return current.state;
    const at = this.now();
    next.updatedAt = at;
    let seq = current.seq;
    const actions: TransactionAction[] = [
      ['update', stateEntity(next, current.seq + history.length), 'Replace', { etag: current.etag }],
      ...extra,
      ...history.map((h): TransactionAction => ['create', historyEntity(model, { ...h, seq: ++seq, at })]),
    ];
    try {
      await t.submitTransaction(actions);
      return next;
    } catch (e) {
      const status = statusOf(e);
      if (status === 412 || status === 409) return 'conflict';
      throw e;
    }
  }
}

type HistoryDraft = Omit<HistoryEntry, 'seq' | 'at'>;

/** Attempts of a read-modify-write before giving up with a ConflictError. */
const MAX_ATTEMPTS = 10;
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));

function pushProduction(s: ModelState, version: number): void {
  if (s.productionHistory[s.productionHistory.length - 1] === version) return;
  s.productionHistory.push(version);
  if (s.productionHistory.length > MAX_PRODUCTION_HISTORY) s.productionHistory.shift();
}

export function checkModelName(model: string): void {
  checkName('model', model, 'model');
}

export function checkAliasName(alias: string): void {
  checkName('alias', alias, 'alias');
}

function checkTraffic(model: string, t: TrafficPolicy): void {
  const problems = (['production', 'canary'] as const).flatMap((k) => {
    const v = t[k];
    if (!Number.isFinite(v) || v < 0 || v > 100) return [{ where: `traffic.${k}`, problem: `must be a percentage 0..100, got ${v}` }];
    if (Math.abs(v * 100 - Math.round(v * 100)) > 1e-6) return [{ where: `traffic.${k}`, problem: `must have at most 2 decimals (routing has 10,000 buckets), got ${v}` }];
    return [];
  });
  if (!problems.length && Math.abs(t.production + t.canary - 100) > 1e-6) {
    problems.push({ where: 'traffic', problem: `production + canary must be 100, got ${t.production} + ${t.canary}` });
  }
  if (problems.length) throw new ValidationError(`model ${model}: invalid traffic policy`, problems);
}

function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown })?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

// -- rows -----------------------------------------------------------------------------

/** Table string properties hold 32K UTF-16 chars; big JSON (signatures) spans several. */
const CHUNK = 30_000;

function packJson(name: string, value: unknown): Record<string, string | number> {
  const s = JSON.stringify(value);
  const out: Record<string, string | number> = { [`${name}_n`]: Math.max(1, Math.ceil(s.length / CHUNK)) };
  for (let i = 0, k = 0; i < s.length || k === 0; i += CHUNK, k++) out[`${name}_${k}`] = s.slice(i, i + CHUNK);
  return out;
}

function unpackJson(e: Record<string, unknown>, name: string): unknown {
  const n = Number(e[`${name}_n`] ?? 0);
  let s = '';
  for (let k = 0; k < n; k++) s += String(e[`${name}_${k}`] ?? '');
  return JSON.parse(s);
}

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

function stateFrom(e: TableEntityResult<Record<string, unknown>>): ModelState {
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
    ...packJson('signature', v.signature),
    ...packJson('check', v.check),
    ...(v.description !== undefined ? { description: v.description } : {}),
  };
}

function versionFrom(e: Record<string, unknown>): ModelVersion {
  return {
    model: String(e.model),
    version: Number(e.version),
    artifact: { blob: String(e.blob), sha256: String(e.sha256), bytes: Number(e.bytes) },
    // Stored signatures were validated at registration; parse again to apply defaults of newer schemas.
    signature: SignatureSchema.parse(unpackJson(e, 'signature')),
    tags: JSON.parse(String(e.tags ?? '{}')),
    createdAt: Number(e.createdAt),
    check: unpackJson(e, 'check') as ArtifactCheck,
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

function historyFrom(e: Record<string, unknown>): HistoryEntry {
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

/** JSON with sorted object keys: equal values give equal strings. */
function stableStringify(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}
