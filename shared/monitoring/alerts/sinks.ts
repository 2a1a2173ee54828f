/**
 * Where alert transitions go. The log sink writes one line; the webhook sink POSTs the event
 * as JSON, signed with HMAC-SHA256 over the exact body bytes (`x-strata-signature:
 * sha256=<hex>`, the GitHub convention, so receivers can reuse their verification code), and
 * retries a network error, a 429 or a 5xx with exponential backoff (another 4xx is the
 * receiver refusing the event: retrying would not change its mind). A delivery that still
 * fails leaves the alert undelivered, and the next monitoring run sends it again.
 */
import { createHmac } from 'node:crypto';
import type { AlertState, AlertTransition } from './engine';

export interface AlertEvent {
  event: Extract<AlertTransition, 'opened' | 'resolved'>;
  alert: AlertState;
  /** What the rule's action did (retrain: the training instance, and whether this alert started it). */
  action?: { kind: 'retrain'; instanceId: string; started: boolean } | { kind: 'retrain'; error: string };
  sentAt: string;
}

export interface AlertSink {
  readonly name: string;
  send(event: AlertEvent): Promise<void>;
}

export const SIGNATURE_HEADER = 'x-strata-signature';

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class LogSink implements AlertSink {
  readonly name = 'log';
  constructor(private readonly log: (line: string) => void = (l) => console.warn(l)) {}
  async send(e: AlertEvent): Promise<void> {
    this.log(`[alert] ${e.event} ${e.alert.severity} ${e.alert.ruleId}: ${e.alert.message}`);
  }
}

export interface WebhookOptions {
  url: string;
  secret?: string;
  /** Attempts in all (default 5). */
  attempts?: number;
  /** First retry delay; doubled each time (default 500 ms). */
  backoffMs?: number;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
}

export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  constructor(private readonly o: WebhookOptions) {}

  async send(e: AlertEvent): Promise<void> {
    const body = JSON.stringify(e);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'strata-alerts' };
    if (this.o.secret) headers[SIGNATURE_HEADER] = signature(this.o.secret, body);
    const attempts = this.o.attempts ?? 5;
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await fetch(this.o.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        last = `answered ${res.status}`;
        if (res.status !== 429 && res.status < 500) break;
      } catch (err) {
        last = (err as Error).message;
      }
      if (attempt < attempts) await new Promise((r) => setTimeout(r, (this.o.backoffMs ?? 500) * 2 ** (attempt - 1)));
    }
    throw new Error(`alert webhook ${new URL(this.o.url).origin} ${last}`);
  }
}
