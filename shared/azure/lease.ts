/**
 * An exclusive lease on a name across every process on one storage account, with a small JSON
 * state kept under it: what the Functions host's singleton lock blobs do, used where work must
 * run on one instance at a time (a derived view's recomputation, a timer's schedule).
 *
 *   const leases = await BlobLeases.open(storage, 'strata-leases')
 *   await leases.run('derived/user_activity', async (lease) => {
 *     const state = await lease.read<{ clock: number }>()
 *     ...
 *     await lease.write({ clock })            only while the lease is held (the write names it)
 *   })
 *   await leases.tryRun(name, work)           undefined at once when another holder has it
 *
 * A blob lease, not an ETag'd record: the service ends it by itself when its holder dies (after
 * `durationS` without a renewal), so a killed instance never blocks the others for longer than
 * that, and a holder that lost it (paused past the duration) cannot write the state: the write
 * carries the lease id and fails. The lease is renewed while the work runs.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { Storage } from './storage';
import { DependencyError } from '../errors';
import { statusOf } from './status';

export interface HeldLease {
  read<T>(): Promise<T | undefined>;
  write(state: unknown): Promise<void>;
}

export interface LeaseOptions {
  /** Seconds the service keeps the lease without a renewal (15..60; Azure's bounds). Default 15. */
  durationS?: number;
  /** How long `run` waits for a lease another holder has before failing. Default 120 s. */
  waitMs?: number;
}

export class BlobLeases {
  /** Per name, the tail of this process's queue of `run` callers (see run). */
  private readonly queues = new Map<string, Promise<void>>();

  private constructor(private readonly container: ContainerClient) {}

  static async open(storage: Storage, container = 'strata-leases'): Promise<BlobLeases> {
    return new BlobLeases(await storage.container(container));
  }

  /**
   * Run `work` holding the lease on `name`; waits (bounded) while another process holds it.
   * Callers in one process queue here first, in order, and only the head asks the service: the
   * service grants a freed lease to whoever asks first, so a dozen partitions of one instance
   * polling at once starved some of them past the bound (the derived view's refresh, under load).
   */
  async run<T>(name: string, work: (lease: HeldLease) => Promise<T>, opts: LeaseOptions = {}): Promise<T> {
    const before = this.queues.get(name) ?? Promise.resolve();
    let done = (): void => undefined;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = before.then(() => mine);
    this.queues.set(name, tail);
    await before;
    try {
      return await this.acquireAndRun(name, work, opts);
    } finally {
      done();
      if (this.queues.get(name) === tail) this.queues.delete(name);
    }
  }

  private async acquireAndRun<T>(name: string, work: (lease: HeldLease) => Promise<T>, opts: LeaseOptions): Promise<T> {
    const deadline = Date.now() + (opts.waitMs ?? 120_000);
    for (let pause = 20; ; pause = Math.min(500, pause * 2)) {
      const r = await this.tryRun(name, work, opts);
      if (r !== undefined) return r.value;
      if (Date.now() > deadline)
        throw new DependencyError(
          `the lease "${name}" stayed held by another instance for ${opts.waitMs ?? 120_000} ms; retry`,
        );
      await new Promise((res) => setTimeout(res, pause * (0.5 + Math.random())));
    }
  }

  /** Run `work` if the lease on `name` is free now; `undefined` when another holder has it. */
  async tryRun<T>(
    name: string,
    work: (lease: HeldLease) => Promise<T>,
    opts: LeaseOptions = {},
  ): Promise<{ value: T } | undefined> {
    const durationS = opts.durationS ?? 15;
    const blob = this.container.getBlockBlobClient(`${name}.json`);
    const leaseClient = blob.getBlobLeaseClient();
    try {
      await leaseClient.acquireLease(durationS);
    } catch (e) {
      if (statusOf(e) === 409) return undefined; // held by someone else
      if (statusOf(e) !== 404) throw e;
      await blob.upload('{}', 2, { conditions: { ifNoneMatch: '*' } }).catch((c) => {
        if (statusOf(c) !== 409 && statusOf(c) !== 412) throw c; // created by another instance meanwhile
      });
      return this.tryRun(name, work, opts);
    }
    const leaseId = leaseClient.leaseId;
    let renewal: Promise<unknown> = Promise.resolve();
    const timer = setInterval(
      () => {
        renewal = leaseClient.renewLease().catch(() => undefined); // a lost lease shows at the next write
      },
      (durationS * 1000) / 3,
    );
    const held: HeldLease = {
      read: async <S>() => {
        const text = (await blob.downloadToBuffer(0, undefined, { conditions: { leaseId } })).toString('utf8');
        const state = JSON.parse(text || '{}') as { state?: S };
        return state.state;
      },
      write: async (state) => {
        const body = JSON.stringify({ state });
        await blob.upload(body, Buffer.byteLength(body), { conditions: { leaseId } });
      },
    };
    try {
      return { value: await work(held) };
    } finally {
      clearInterval(timer);
      await renewal;
      await leaseClient.releaseLease().catch(() => undefined); // expires by itself otherwise
    }
  }
}
