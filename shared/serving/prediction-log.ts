/**
 * The prediction log: every prediction (live and shadow) as a record, sent in batches to
 * a sink. The host wires the sink to the `predictions` Event Hub (the local bus locally),
 * and ingest treats `predictions` as a source like any other, using the schema below, so
 * monitoring reads windows of predictions from the offline store.
 */
import { hash } from 'node:crypto';
import { z } from 'zod';

const outputValue = z.union([z.number(), z.array(z.number())]);

/** The largest sample key: 48 bits. */
const SAMPLE_KEY_MAX = 2 ** 48 - 1;

export const PredictionRecordSchema = z
  .object({
    /** Unique per record: `{requestId}:{index}` for live, `{requestId}:{index}:shadow:{version}` for shadows. */
    predictionId: z.string().min(1),
    /** Links a live prediction with the shadow predictions made for the same request. */
    requestId: z.string().min(1),
    /** Event time, epoch ms. */
    ts: z.number().int().nonnegative(),
    model: z.string().min(1),
    version: z.number().int().positive(),
    entityId: z.string().min(1),
    /** Why this version answered: production/canary routing, a pin, or a shadow copy. */
    routedBy: z.enum(['production', 'canary', 'pinned', 'shadow']),
    shadow: z.boolean(),
    /** The model's input, by `view:feature`, after defaults and overrides. */
    features: z.record(z.string(), z.number()),
    /** Features that were missing or stale and filled with their default. */
    defaulted: z.array(z.string()),
    /**
     * Per view whose online record a feature used: the record's age when predicted (ts minus its
     * event time, ms), for monitoring's freshness. One per view, as every feature of a view has its
     * record's event time; absent for views only defaulted, overridden or given.
     */
    viewAgeMs: z.record(z.string(), z.number()).optional(),
    /** What records logged before `viewAgeMs` carry instead: the same age per feature read. */
    featureAgeMs: z.record(z.string(), z.number()).optional(),
    /** Features the caller overrode. */
    overridden: z.array(z.string()),
    /** The first output (what the response calls `prediction`). */
    prediction: outputValue,
    /**
     * The first output again when it is one number (absent for a list): ingest stores it as a
     * DOUBLE column, so monitoring's score and the first output's contract scan numbers instead of
     * parsing `prediction`, which a list makes JSON text.
     */
    predictionNumber: z.number().optional(),
    /**
     * The record's sample key, sampleKeyOf(predictionId): monitoring's bounded sample keeps the
     * rows of smallest key (rehashed with its seed). A number, so a window reads a DOUBLE column
     * rather than hashing every prediction's id string (about 3% of a 1M-row window). Absent in
     * records logged before it; the window hashes their id instead.
     */
    sampleKey: z.number().int().nonnegative().max(SAMPLE_KEY_MAX).optional(),
    /** Every signature output by name (`name` or `name[column]`). */
    outputs: z.record(z.string(), outputValue),
    /** Request latency as the caller saw it (shadow: the shadow run's own latency). */
    latencyMs: z.number().nonnegative(),
  })
  .strict();
export type PredictionRecord = z.infer<typeof PredictionRecordSchema>;

/**
 * A prediction's sample key: the first six bytes of its id's SHA-1 (uniform, and exact as a
 * double). A maintained hash rather than a hand-written one; about 1 µs a prediction.
 */
export const sampleKeyOf = (predictionId: string): number => hash('sha1', predictionId, 'buffer').readUIntBE(0, 6);

/** Where batches of records go (Event Hubs output, local bus, a file...). */
export interface PredictionSink {
  send(records: PredictionRecord[]): Promise<void>;
}

export interface PredictionLogOptions {
  /** Records per send (default 500). */
  maxBatch?: number;
  /** The longest a record waits for its batch to fill (default 200 ms). */
  maxDelayMs?: number;
  /** Records kept while the sink is failing; beyond this the oldest are dropped and counted (default 100,000). */
  maxBuffered?: number;
  onError?: (e: unknown, records: number) => void;
}

export interface PredictionLogStats {
  sent: number;
  dropped: number;
  buffered: number;
  failedSends: number;
}

/**
 * Buffers records and sends them in order, one batch in flight at a time. `add` never
 * blocks or throws, so logging can never fail or slow a prediction; a failing sink is
 * retried with backoff.
 */
export class PredictionLog {
  private buffer: PredictionRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private backoffMs = 0;
  private readonly counts = { sent: 0, dropped: 0, failedSends: 0 };
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly maxBuffered: number;

  constructor(
    private readonly sink: PredictionSink,
    private readonly opts: PredictionLogOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 200;
    this.maxBuffered = opts.maxBuffered ?? 100_000;
  }

  add(records: PredictionRecord[]): void {
    for (const r of records) this.buffer.push(r);
    const over = this.buffer.length - this.maxBuffered;
    if (over > 0) {
      this.buffer.splice(0, over);
      this.counts.dropped += over;
    }
    if (this.buffer.length >= this.maxBatch && !this.sending && this.backoffMs === 0) this.pump();
    else this.schedule(this.backoffMs || this.maxDelayMs);
  }

  /** Send everything buffered now; resolves when the sink took it (or rejects with the sink's error). */
  async flush(): Promise<void> {
    this.clearTimer();
    while (this.sending) await this.sending.catch(() => undefined);
    while (this.buffer.length) {
      const batch = this.buffer.splice(0, this.maxBatch);
      try {
        await this.sink.send(batch);
        this.counts.sent += batch.length;
      } catch (e) {
        this.buffer.unshift(...batch);
        this.counts.failedSends++;
        throw e;
      }
    }
  }

  stats(): PredictionLogStats {
    return { ...this.counts, buffered: this.buffer.length };
  }

  private schedule(ms: number): void {
    if (this.timer || this.sending || this.buffer.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, ms);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    this.clearTimer();
    if (this.sending || this.buffer.length === 0) return;
    const batch = this.buffer.splice(0, this.maxBatch);
    this.sending = this.sink
      .send(batch)
      .then(
        () => {
          this.counts.sent += batch.length;
          this.backoffMs = 0;
        },
        (e) => {
          this.buffer.unshift(...batch);
          this.counts.failedSends++;
          this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 100), 10_000);
          this.opts.onError?.(e, batch.length);
        },
      )
      .finally(() => {
        this.sending = undefined;
        if (this.buffer.length >= this.maxBatch && this.backoffMs === 0) this.pump();
        else this.schedule(this.backoffMs || this.maxDelayMs);
      });
  }
}
