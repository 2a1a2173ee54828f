/**
 * What each model serves right now, cached in-process so a prediction never reads a Table:
 * a `Deployment` is an immutable snapshot of a model's aliases, traffic policy and
 * compiled version plans. A snapshot older than half of `refreshMs` is refreshed in the
 * background; one older than `refreshMs` is not served: the request waits for the refresh.
 * So every instance routes by a state read at most `refreshMs` before the request (the
 * bound a promote or rollback made on another instance is seen within), except while the
 * registry is unreachable, when the last good snapshot serves (reported through onError).
 * `invalidate` (admin changes on this instance) refreshes at once. A refresh loads the
 * sessions of every newly referenced version before it swaps the snapshot, so traffic
 * only ever moves to a warm version, on this instance and on every other one.
 */
import { DependencyError, NotFoundError, StrataError } from '../errors';
import {
  CANARY,
  PRODUCTION,
  isShadowAlias,
  type ArtifactRef,
  type ModelState,
  type ModelVersion,
  type TrafficPolicy,
} from './registry';
import { SessionCache, versionKey, type VersionKey } from './sessions';
import { compilePlan, type ModelSignature, type ServingPlan } from './signature';
import type { TensorInfo } from './artifact-check';
import { own } from '../own';
import { DEFAULT_REFRESH_MS } from './refresh';

/** Routing buckets per model (router.ts bucketOf: 0..BUCKETS-1); a canary's share is a count of them. */
export const BUCKETS = 10_000;

/** The registry reads serving needs (ModelRegistry implements it). */
export interface RegistryReader {
  getModel(model: string): Promise<ModelState>;
  getVersion(model: string, version: number): Promise<ModelVersion>;
  readArtifact(ref: ArtifactRef): Promise<Uint8Array>;
}

export interface DeployedVersion {
  model: string;
  version: number;
  signature: ModelSignature;
  plan: ServingPlan;
  artifact: ArtifactRef;
  /** The ONNX graph's tensors as the registration check saw them (types and shapes). */
  tensors: { inputs: TensorInfo[]; outputs: TensorInfo[] };
}

export interface Deployment {
  model: string;
  aliases: Readonly<Record<string, number>>;
  traffic: TrafficPolicy;
  /** Every version an alias points to. */
  versions: ReadonlyMap<number, DeployedVersion>;
  production?: DeployedVersion;
  canary?: DeployedVersion;
  shadows: DeployedVersion[];
  /** Entities whose bucket is below this go to the canary. */
  canaryBuckets: number;
  refreshedAt: number;
}

export interface DeploymentCacheOptions {
  /** How old a served snapshot may be (default DEFAULT_REFRESH_MS); refreshed in the background from half of it. */
  refreshMs?: number;
  /** How long a retired version's session stays loaded after its last request. */
  graceMs: number;
  now?: () => number;
  onError?: (e: unknown, context: string) => void;
}

interface Entry {
  deployment?: Deployment;
  /** A cached "not registered" answer, so unknown models cost no Table read per request either. */
  missing?: StrataError;
  /** When the registry read of the snapshot started (or the failed refresh ended: try again after refreshMs). */
  fetchedAt: number;
  /** The last refresh could not read the registry: serve the last good snapshot rather than wait on it. */
  failing?: boolean;
  refreshing?: Promise<void>;
}

export class DeploymentCache {
  readonly sessions: SessionCache;
  private readonly entries = new Map<string, Entry>();
  private readonly versionInfo = new Map<string, Promise<DeployedVersion>>();
  private readonly refreshMs: number;
  private readonly now: () => number;

  constructor(
    private readonly registry: RegistryReader,
    private readonly opts: DeploymentCacheOptions,
  ) {
    this.refreshMs = opts.refreshMs ?? DEFAULT_REFRESH_MS;
    this.now = opts.now ?? Date.now;
    this.sessions = new SessionCache(
      async (k) => this.registry.readArtifact((await this.version(k.model, k.version)).artifact),
      {
        graceMs: opts.graceMs,
        onError: (e, k) => opts.onError?.(e, `loading ${versionKey(k)}`),
      },
    );
  }

  /** The current snapshot of a model, read at most refreshMs ago (waits the first time, after an invalidate, and past refreshMs). */
  async get(model: string): Promise<Deployment> {
    const fresh = this.current(model);
    if (fresh) return fresh;
    const e = this.entries.get(model)!;
    // Too old to serve: another instance may have promoted or rolled back since.
    if (this.mustWait(e)) await this.refresh(model, e);
    if (e.missing) throw e.missing;
    return e.deployment!;
  }

  /**
   * What get() answers when it need not wait (the hot path takes it synchronously), else
   * undefined (get() reads first, or throws). Past half of refreshMs it refreshes in the background.
   */
  current(model: string): Deployment | undefined {
    let e = this.entries.get(model);
    if (!e) {
      e = { fetchedAt: 0 };
      this.entries.set(model, e);
    }
    if (this.mustWait(e)) return undefined;
    if (this.now() - e.fetchedAt >= this.refreshMs / 2 && !e.refreshing)
      void this.refresh(model, e).catch(() => undefined); // errors reported via onError; keep serving
    return e.missing ? undefined : e.deployment;
  }

  /** Re-read a model now (after an admin change) and wait until its new snapshot serves. */
  async invalidate(model: string): Promise<void> {
    let e = this.entries.get(model);
    if (!e) this.entries.set(model, (e = { fetchedAt: 0 }));
    // A refresh already running may have read the state before the change: wait for it, then read again.
    if (e.refreshing) await e.refreshing.catch(() => undefined);
    await this.refresh(model, e);
  }

  /** A version's metadata and plan, whether or not an alias points to it (versions are immutable). */
  version(model: string, version: number): Promise<DeployedVersion> {
    const k = versionKey({ model, version });
    let p = this.versionInfo.get(k);
    if (!p) {
      p = this.registry.getVersion(model, version).then((v) => ({
        model,
        version,
        signature: v.signature,
        plan: compilePlan(v.signature),
        artifact: v.artifact,
        tensors: { inputs: v.check?.inputs ?? [], outputs: v.check?.outputs ?? [] },
      }));
      p.catch(() => this.versionInfo.delete(k));
      this.versionInfo.set(k, p);
    }
    return p;
  }

  async close(): Promise<void> {
    this.entries.clear();
    await this.sessions.close();
  }

  /** Never read, or too old to serve (unless storage is failing: then the last snapshot serves). */
  private mustWait(e: Entry): boolean {
    return (!e.deployment && !e.missing) || (this.now() - e.fetchedAt >= this.refreshMs && !e.failing);
  }

  private refresh(model: string, e: Entry): Promise<void> {
    if (e.refreshing) return e.refreshing;
    const run = this.load(model, e).finally(() => {
      if (e.refreshing === run) e.refreshing = undefined;
    });
    e.refreshing = run;
    return run;
  }

  private async load(model: string, e: Entry): Promise<void> {
    let state: ModelState;
    const readAt = this.now();
    try {
      state = await this.registry.getModel(model);
      e.failing = false;
    } catch (err) {
      if (err instanceof NotFoundError) {
        e.deployment = undefined;
        e.missing = err;
        e.fetchedAt = readAt;
        e.failing = false;
        return;
      }
      this.opts.onError?.(err, `refreshing model ${model}`);
      if (e.deployment) {
        e.fetchedAt = this.now(); // keep serving the last good snapshot; try again after refreshMs
        e.failing = true;
        return;
      }
      throw new DependencyError(`model registry unavailable while loading model ${model}: ${(err as Error).message}`);
    }
    const referenced = [...new Set(Object.values(state.aliases))];
    const previous = e.deployment ? [...e.deployment.versions.keys()] : [];
    // Protect both old and new versions from retirement while the new ones load.
    this.sessions.setActive(model, [...previous, ...referenced]);
    try {
      const versions = new Map<number, DeployedVersion>();
      await Promise.all(
        referenced.map(async (v) => {
          versions.set(v, await this.version(model, v));
          await this.sessions.warm({ model, version: v });
        }),
      );
      e.deployment = snapshot(state, versions, this.now());
      e.missing = undefined;
      e.fetchedAt = readAt;
      this.sessions.setActive(model, referenced);
    } catch (err) {
      this.sessions.setActive(model, previous);
      this.opts.onError?.(err, `loading versions of model ${model}`);
      if (!e.deployment) throw err;
      e.fetchedAt = this.now();
      e.failing = true;
    }
  }
}

function snapshot(state: ModelState, versions: Map<number, DeployedVersion>, now: number): Deployment {
  const at = (alias: string) => {
    const v = own(state.aliases, alias);
    return v === undefined ? undefined : versions.get(v);
  };
  const shadowVersions = new Set(
    Object.entries(state.aliases)
      .filter(([a]) => isShadowAlias(a))
      .map(([, v]) => v),
  );
  const canary = at(CANARY);
  return {
    model: state.model,
    aliases: Object.freeze({ ...state.aliases }),
    traffic: state.traffic,
    versions,
    production: at(PRODUCTION),
    canary,
    shadows: [...shadowVersions].map((v) => versions.get(v)!),
    canaryBuckets: canary ? Math.round((state.traffic.canary / 100) * BUCKETS) : 0,
    refreshedAt: now,
  };
}

export type { VersionKey };
