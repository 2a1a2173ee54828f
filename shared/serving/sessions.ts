/**
 * onnxruntime sessions, one per model version, loaded once and shared by every request.
 * A request holds a lease on the session it started with, so a swap of versions never
 * changes the model under a running request. Versions the live routing no longer
 * references (retired, or pinned on demand) are released `graceMs` after their last
 * lease ends.
 */
import * as ort from 'onnxruntime-node';

export interface VersionKey {
  model: string;
  version: number;
}

export const versionKey = (k: VersionKey): string => `${k.model}@${k.version}`;

/** Where the session cache gets a version's ONNX bytes (the registry's artifact store). */
export type ArtifactLoader = (key: VersionKey) => Promise<Uint8Array>;

export interface Lease extends VersionKey {
  readonly session: ort.InferenceSession;
  /** Give the session back; idempotent. */
  release(): void;
}

export interface SessionStatus extends VersionKey {
  state: 'loading' | 'ready';
  /** Requests holding it now. */
  leases: number;
  /** Referenced by the live routing (production, canary, shadow or another alias). */
  active: boolean;
  /** When it will be released if nothing takes a lease before (epoch ms). */
  releaseAt?: number;
}

/**
 * Small tabular models run fastest on one intra-op thread: the per-call overhead of a
 * thread pool dwarfs the microseconds of math, and the host has few cores to share.
 */
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

export function createSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, SESSION_OPTIONS);
}

interface Entry extends VersionKey {
  key: string;
  loading: Promise<ort.InferenceSession>;
  session?: ort.InferenceSession;
  leases: number;
  active: boolean;
  timer?: NodeJS.Timeout;
  releaseAt?: number;
}

export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loads = new Map<string, number>();
  /**
   * The live versions of each model, as last set: a version loaded after setActive named it
   * (warm() during a refresh) starts active, so no grace timer can release it while the refresh
   * is still loading its other versions (on a busy machine that outlasted the grace period).
   */
  private readonly live = new Map<string, Set<number>>();
  private closed = false;

  constructor(
    private readonly loadArtifact: ArtifactLoader,
    private readonly opts: { graceMs: number; onError?: (e: unknown, key: VersionKey) => void },
  ) {}

  /** Load a version now (if not loaded) so the first request it serves pays no load time. */
  async warm(key: VersionKey): Promise<void> {
    const e = this.entry(key);
    await e.loading;
    this.maybeRetire(e);
  }

  /** A lease on a loaded session, without waiting: the hot path. Undefined if not loaded yet. */
  tryAcquire(key: VersionKey): Lease | undefined {
    const e = this.entries.get(versionKey(key));
    return e?.session ? this.lease(e, e.session) : undefined;
  }

  /** A lease on a version's session, loading it first if needed. */
  async acquire(key: VersionKey): Promise<Lease> {
    const fast = this.tryAcquire(key);
    if (fast) return fast;
    const e = this.entry(key);
    e.leases++; // hold it while it loads so no grace timer fires in between
    this.cancelRetire(e);
    try {
      const session = await e.loading;
      e.leases--;
      return this.lease(e, session);
    } catch (err) {
      e.leases--;
      throw err;
    }
  }

  /**
   * The versions of `model` the live routing references. Others become retired:
   * released once no lease holds them and `graceMs` has passed.
   */
  setActive(model: string, versions: Iterable<number>): void {
    const live = new Set(versions);
    this.live.set(model, live);
    for (const e of this.entries.values()) {
      if (e.model !== model) continue;
      e.active = live.has(e.version);
      if (e.active) this.cancelRetire(e);
      else this.maybeRetire(e);
    }
  }

  /** How many times a version was loaded in this process (a reload after release counts again). */
  loadCount(key: VersionKey): number {
    return this.loads.get(versionKey(key)) ?? 0;
  }

  status(): SessionStatus[] {
    return [...this.entries.values()].map((e) => ({
      model: e.model,
      version: e.version,
      state: e.session ? 'ready' : 'loading',
      leases: e.leases,
      active: e.active,
      ...(e.releaseAt !== undefined ? { releaseAt: e.releaseAt } : {}),
    }));
  }

  /** Release every session now (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) if (e.timer) clearTimeout(e.timer);
    await Promise.all(
      all.map((e) =>
        e.loading.then(
          (s) => s.release(),
          () => undefined,
        ),
      ),
    );
  }

  private entry(key: VersionKey): Entry {
    if (this.closed) throw new Error('the session cache is closed');
    const k = versionKey(key);
    let e = this.entries.get(k);
    if (e) return e;
    const created: Entry = {
      model: key.model,
      version: key.version,
      key: k,
      leases: 0,
      active: this.live.get(key.model)?.has(key.version) ?? false,
      loading: this.loadArtifact(key).then(createSession),
    };
    this.loads.set(k, (this.loads.get(k) ?? 0) + 1);
    created.loading.then(
      (s) => (created.session = s),
      (err) => {
        // A failed load is forgotten so the next request tries again.
        if (this.entries.get(k) === created) this.entries.delete(k);
        this.opts.onError?.(err, key);
      },
    );
    this.entries.set(k, (e = created));
    return e;
  }

  private lease(e: Entry, session: ort.InferenceSession): Lease {
    e.leases++;
    this.cancelRetire(e);
    let held = true;
    return {
      model: e.model,
      version: e.version,
      session,
      release: () => {
        if (!held) return;
        held = false;
        e.leases--;
        this.maybeRetire(e);
      },
    };
  }

  private cancelRetire(e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    e.releaseAt = undefined;
  }

  private maybeRetire(e: Entry): void {
    if (e.active || e.leases > 0 || e.timer || this.entries.get(e.key) !== e) return;
    e.releaseAt = Date.now() + this.opts.graceMs;
    e.timer = setTimeout(() => {
      e.timer = undefined;
      e.releaseAt = undefined;
      if (e.active || e.leases > 0 || this.entries.get(e.key) !== e) return;
      this.entries.delete(e.key);
      e.loading.then((s) => s.release()).catch((err) => this.opts.onError?.(err, e));
    }, this.opts.graceMs);
    e.timer.unref();
  }
}
