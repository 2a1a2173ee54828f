/**
 * Blob-triggered functions on Azurite: polls the container of each function's path pattern
 * (`uploads/{name}`), invokes the function once per new or changed blob, and keeps a receipt
 * per (function, blob, ETag) in `azure-webjobs-hosts/blobreceipts/...` like the Functions host,
 * so a restart does not process a blob twice. A blob that fails 5 times goes to the poison list.
 *
 * Several hosts on one storage poll the same containers: before a host runs the function it
 * claims the receipt (created if none, else replaced, ETag-guarded, with its name and a claim
 * expiry in the metadata); the host that loses the race skips the blob, and a claim whose host
 * died expires after CLAIM_MS, so the blob is processed once across hosts.
 */
import { randomUUID } from 'node:crypto';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { statusOf } from '../../shared/azure/status';
import type { RpcTypedData } from '../functions-core';

export const MAX_ATTEMPTS = 5;
/** How long a host's claim on a blob holds (longer than any invocation should take). */
const CLAIM_MS = 5 * 60_000;

export interface BlobPathPattern {
  container: string;
  /** Literal prefix of the blob name before the first `{`, for listing. */
  prefix: string;
  match(blobName: string): Record<string, string> | undefined;
}

export function parseBlobPath(path: string): BlobPathPattern {
  const slash = path.indexOf('/');
  const container = slash < 0 ? path : path.slice(0, slash);
  const rest = slash < 0 ? '{name}' : path.slice(slash + 1) || '{name}';
  if (container.includes('{')) throw new Error(`blob trigger path "${path}": the container name cannot be a pattern`);
  const names: string[] = [];
  const source = rest.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, n: string) => {
    names.push(n);
    return '(.+?)';
  });
  const re = new RegExp(`^${source}$`);
  const brace = rest.indexOf('{');
  return {
    container,
    prefix: brace < 0 ? rest : rest.slice(0, brace),
    match(blobName) {
      const m = re.exec(blobName);
      if (!m) return undefined;
      const out: Record<string, string> = {};
      names.forEach((n, i) => (out[n] = m[i + 1]!));
      return out;
    },
  };
}

export interface BlobTriggerTarget {
  functionName: string;
  pattern: BlobPathPattern;
  invoke(input: { data: RpcTypedData; triggerMetadata: Record<string, RpcTypedData> }): Promise<void>;
}

interface Receipt {
  etag: string;
  attempts: number;
  done: boolean;
}

export class BlobTriggerPoller {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly receipts = new Map<string, Receipt>();
  private stopped = false;
  /** This poller's name in receipt claims (receipts are shared by every host on the storage). */
  private readonly claimer = randomUUID();

  constructor(
    private readonly blobs: BlobServiceClient,
    private readonly hostContainer: ContainerClient,
    private readonly hostId: string,
    private readonly targets: BlobTriggerTarget[],
    private readonly intervalMs: number,
    private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void,
  ) {}

  private receiptName(fn: string, container: string, blob: string): string {
    return `blobreceipts/${this.hostId}/${fn}/${container}/${blob}`;
  }

  async start(): Promise<void> {
    if (!this.targets.length) return;
    for await (const b of this.hostContainer.listBlobsFlat({
      prefix: `blobreceipts/${this.hostId}/`,
      includeMetadata: true,
    })) {
      const m = b.metadata ?? {};
      if (m.etag)
        this.receipts.set(b.name, { etag: m.etag, attempts: Number(m.attempts ?? 0), done: m.done === 'true' });
    }
    for (const t of this.targets) await this.blobs.getContainerClient(t.pattern.container).createIfNotExists();
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.pollOnce()
        .catch((e) => this.log('warn', `blob trigger poll failed: ${(e as Error).message}`))
        .finally(() => this.schedule(this.intervalMs));
    }, ms);
  }

  /** One scan of every watched container (exported for tests and the on-demand admin route). */
  async pollOnce(): Promise<void> {
    for (const t of this.targets) {
      const container = this.blobs.getContainerClient(t.pattern.container);
      for await (const b of container.listBlobsFlat({ prefix: t.pattern.prefix, includeMetadata: true })) {
        if (this.stopped) return;
        const params = t.pattern.match(b.name);
        if (!params) continue;
        const key = this.receiptName(t.functionName, t.pattern.container, b.name);
        // ETags are compared without quotes (blob metadata cannot hold them).
        const etag = (b.properties.etag ?? '').replace(/"/g, '');
        const r = this.receipts.get(key);
        if (r && r.etag === etag && (r.done || r.attempts >= MAX_ATTEMPTS)) continue;
        await this.process(t, container, b.name, etag, params, key, r && r.etag === etag ? r.attempts : 0);
      }
    }
  }

  private async process(
    t: BlobTriggerTarget,
    container: ContainerClient,
    name: string,
    etag: string,
    params: Record<string, string>,
    key: string,
    attempts: number,
  ): Promise<void> {
    const client = container.getBlobClient(name);
    const claim = await this.claim(key, etag);
    if (!claim) return;
    attempts = claim.attempts;
    let done = false;
    try {
      const buf = await client.downloadToBuffer();
      const props = await client.getProperties();
      const triggerMetadata: Record<string, RpcTypedData> = {
        BlobTrigger: { string: `${t.pattern.container}/${name}` },
        Uri: { string: client.url },
        Properties: {
          json: JSON.stringify({
            ETag: etag,
            Length: props.contentLength,
            ContentType: props.contentType,
            LastModified: props.lastModified,
          }),
        },
        Metadata: { json: JSON.stringify(props.metadata ?? {}) },
      };
      for (const [k, v] of Object.entries(params)) triggerMetadata[k] = { string: v };
      await t.invoke({ data: { bytes: buf }, triggerMetadata });
      done = true;
    } catch (err) {
      attempts += 1;
      this.log(
        'error',
        `blob trigger "${t.functionName}" failed on ${t.pattern.container}/${name} (attempt ${attempts}/${MAX_ATTEMPTS}): ${(err as Error).message}`,
      );
      if (attempts >= MAX_ATTEMPTS) await this.poison(t, name, err as Error);
    }
    const receipt = { etag, attempts, done };
    this.receipts.set(key, receipt);
    await this.hostContainer
      .getBlockBlobClient(key)
      .upload('', 0, {
        metadata: { etag, attempts: String(attempts), done: String(done) },
        conditions: { ifMatch: claim.receiptEtag },
      })
      .catch((e) => {
        if (statusOf(e) !== 412) throw e;
        this.log('warn', `blob trigger "${t.functionName}": ${name}: another host took the blob over meanwhile`);
      });
  }

  /**
   * Claim the receipt for (blob, ETag) before processing: undefined when it is done, given up, or
   * claimed by another live host; else the attempts so far and the claim's receipt ETag.
   */
  private async claim(key: string, etag: string): Promise<{ attempts: number; receiptEtag: string } | undefined> {
    const blob = this.hostContainer.getBlockBlobClient(key);
    let current: { etag?: string; metadata: Record<string, string> } | undefined;
    try {
      const p = await blob.getProperties();
      current = { etag: p.etag, metadata: p.metadata ?? {} };
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
    const m = current?.metadata ?? {};
    const sameBlob = m.etag === etag;
    const attempts = sameBlob ? Number(m.attempts ?? 0) : 0;
    if (sameBlob && (m.done === 'true' || attempts >= MAX_ATTEMPTS)) {
      this.receipts.set(key, { etag, attempts, done: m.done === 'true' });
      return undefined;
    }
    if (sameBlob && m.claimer && m.claimer !== this.claimer && Number(m.claimeduntil ?? 0) > Date.now())
      return undefined;
    try {
      const r = await blob.upload('', 0, {
        metadata: {
          etag,
          attempts: String(attempts),
          done: 'false',
          claimer: this.claimer,
          claimeduntil: String(Date.now() + CLAIM_MS),
        },
        conditions: current?.etag ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
      });
      return { attempts, receiptEtag: r.etag ?? '' };
    } catch (e) {
      const code = statusOf(e);
      if (code === 409 || code === 412) return undefined; // another host claimed it first
      throw e;
    }
  }

  private async poison(t: BlobTriggerTarget, name: string, err: Error): Promise<void> {
    const text = JSON.stringify({
      function: t.functionName,
      container: t.pattern.container,
      blob: name,
      error: err.message,
      at: new Date().toISOString(),
    });
    await this.hostContainer
      .getBlockBlobClient(`blobpoison/${this.hostId}/${t.functionName}/${t.pattern.container}/${name}.json`)
      .upload(text, Buffer.byteLength(text));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling?.catch(() => undefined);
  }
}
