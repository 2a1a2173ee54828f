/**
 * Queue-triggered functions on Azure Storage queues (Azurite locally), with the Queues
 * extension's rules and host.json `extensions.queues` settings:
 *
 *   - up to `batchSize` (16) messages are taken at once, hidden while they run, and run in parallel
 *   - success deletes the message; a failure makes it visible again after `visibilityTimeout` (0)
 *   - a message that failed `maxDequeueCount` (5) times moves to `<queue>-poison`
 *   - an empty queue is polled with a backoff from 100 ms up to `maxPollingInterval` (1 min);
 *     messages this host's own output bindings add are picked up at once
 *   - messages are base64 unless `messageEncoding` is "none"
 *
 * Delivery is at-least-once, as in Azure: a host killed mid-run leaves the message hidden until
 * its lock (10 min) runs out, and it runs again.
 */
import type { QueueClient } from '@azure/storage-queue';
import type { RpcTypedData } from '../functions-core';
import type { Logger } from '../logger';
import { timeSpanMs } from '../timespan';

export interface QueueSettings {
  batchSize: number;
  maxDequeueCount: number;
  visibilityTimeoutMs: number;
  maxPollingIntervalMs: number;
  messageEncoding: 'base64' | 'none';
}

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  batchSize: 16,
  maxDequeueCount: 5,
  visibilityTimeoutMs: 0,
  maxPollingIntervalMs: 60_000,
  messageEncoding: 'base64',
};

/** How long a message stays hidden while its function runs. */
const LOCK_SECONDS = 600;
const MIN_POLL_MS = 100;

export interface QueueTriggerTarget {
  functionName: string;
  connection: string;
  queue: QueueClient;
  poison: () => Promise<QueueClient>;
  invoke(input: { data: RpcTypedData; triggerMetadata: Record<string, RpcTypedData> }): Promise<void>;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeMessage(text: string, encoding: QueueSettings['messageEncoding']): string {
  if (encoding === 'none') return text;
  if (text.length % 4 !== 0 || !BASE64.test(text))
    throw new Error(
      'Message decoding has failed: the message is not base64 (host.json extensions.queues.messageEncoding is "base64")',
    );
  return Buffer.from(text, 'base64').toString('utf8');
}

class QueueListener {
  private timer: NodeJS.Timeout | undefined;
  private pollMs = MIN_POLL_MS;
  private current: Promise<void> | undefined;
  private wake = false;
  stopped = false;

  constructor(
    readonly target: QueueTriggerTarget,
    private readonly s: QueueSettings,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** New messages are known to be there: poll now. */
  notify(): void {
    this.pollMs = MIN_POLL_MS;
    if (this.current) this.wake = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.current = this.pollOnce()
        .then((n) => {
          this.pollMs =
            n > 0 || this.wake ? 0 : Math.min(Math.max(this.pollMs * 2, MIN_POLL_MS), this.s.maxPollingIntervalMs);
        })
        .catch((e: Error) => {
          this.pollMs = Math.min(Math.max(this.pollMs * 2, 1000), this.s.maxPollingIntervalMs);
          this.log(
            'warn',
            `queue trigger "${this.target.functionName}": polling queue "${this.target.queue.name}" failed: ${e.message}`,
          );
        })
        .finally(() => {
          this.current = undefined;
          this.wake = false;
          this.schedule(this.pollMs);
        });
    }, ms);
  }

  /** One batch: take, run in parallel, settle each message. Returns how many there were. */
  async pollOnce(): Promise<number> {
    const { receivedMessageItems: items } = await this.target.queue.receiveMessages({
      numberOfMessages: this.s.batchSize,
      visibilityTimeout: LOCK_SECONDS,
    });
    await Promise.all(items.map((m) => this.process(m)));
    return items.length;
  }

  private async process(m: {
    messageId: string;
    popReceipt: string;
    messageText: string;
    dequeueCount: number;
    insertedOn: Date;
    expiresOn: Date;
    nextVisibleOn: Date;
  }): Promise<void> {
    const t = this.target;
    try {
      const text = decodeMessage(m.messageText, this.s.messageEncoding);
      const j = (v: unknown): RpcTypedData => ({ json: JSON.stringify(v) });
      await t.invoke({
        data: { string: text },
        triggerMetadata: {
          QueueTrigger: { string: text },
          Id: { string: m.messageId },
          PopReceipt: { string: m.popReceipt },
          DequeueCount: j(m.dequeueCount),
          InsertionTime: j(m.insertedOn.toISOString()),
          ExpirationTime: j(m.expiresOn.toISOString()),
          NextVisibleTime: j(m.nextVisibleOn.toISOString()),
        },
      });
      await t.queue.deleteMessage(m.messageId, m.popReceipt);
    } catch (err) {
      // The function's failure itself is logged by the host with its invocation id.
      if (m.dequeueCount >= this.s.maxDequeueCount) {
        await (await t.poison()).sendMessage(m.messageText);
        await t.queue.deleteMessage(m.messageId, m.popReceipt);
        this.log(
          'error',
          `queue trigger "${t.functionName}": message ${m.messageId} failed ${m.dequeueCount} time(s) and was moved to queue "${t.queue.name}-poison": ${(err as Error).message}`,
        );
      } else {
        await t.queue.updateMessage(
          m.messageId,
          m.popReceipt,
          undefined,
          Math.round(this.s.visibilityTimeoutMs / 1000),
        );
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current?.catch(() => undefined);
  }
}

export class QueueTriggerPoller {
  private readonly listeners: QueueListener[];

  constructor(targets: QueueTriggerTarget[], settings: QueueSettings, log: Logger) {
    this.listeners = targets.map((t) => new QueueListener(t, settings, log));
  }

  start(): void {
    for (const l of this.listeners) l.start();
  }

  /** Messages were added to `queueName` on `connection` (by this host's output bindings). */
  notify(connection: string, queueName: string): void {
    for (const l of this.listeners)
      if (l.target.connection === connection && l.target.queue.name === queueName) l.notify();
  }

  /** Run one poll of every queue now (the on-demand admin route). */
  async pollOnce(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.pollOnce()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.stop()));
  }
}

/** host.json `extensions.queues`, with TimeSpan strings ("00:00:02") as Azure writes them. */
export function queueSettingsFrom(json: Record<string, unknown> | undefined): QueueSettings {
  const q = json ?? {};
  const num = (k: string, d: number) => (typeof q[k] === 'number' ? (q[k] as number) : d);
  const span = (k: string, d: number) => (typeof q[k] === 'string' ? timeSpanMs(q[k] as string, k) : d);
  const enc = q.messageEncoding;
  if (enc !== undefined && enc !== 'base64' && enc !== 'none')
    throw new Error(
      `host.json extensions.queues.messageEncoding must be "base64" or "none", got ${JSON.stringify(enc)}`,
    );
  return {
    batchSize: Math.min(32, Math.max(1, num('batchSize', DEFAULT_QUEUE_SETTINGS.batchSize))),
    maxDequeueCount: Math.max(1, num('maxDequeueCount', DEFAULT_QUEUE_SETTINGS.maxDequeueCount)),
    visibilityTimeoutMs: span('visibilityTimeout', DEFAULT_QUEUE_SETTINGS.visibilityTimeoutMs),
    maxPollingIntervalMs: Math.max(
      MIN_POLL_MS,
      span('maxPollingInterval', DEFAULT_QUEUE_SETTINGS.maxPollingIntervalMs),
    ),
    messageEncoding: (enc as QueueSettings['messageEncoding'] | undefined) ?? 'base64',
  };
}
