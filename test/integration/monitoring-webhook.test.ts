/**
 * The alert webhook against a real local HTTP server: the body is the event as JSON, the
 * x-strata-signature header is HMAC-SHA256 of the exact body with the configured secret
 * (checked here with node's crypto, independently of the sink), a failed first attempt
 * (503) is retried with backoff, a 4xx refusal is not retried, and a sink that never gets
 * through fails so the alert stays undelivered.
 */
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookSink, type AlertEvent } from '../../shared/monitoring/alerts/sinks';

const SECRET = 'test-webhook-secret';
interface Received {
  at: number;
  body: string;
  signature: string | undefined;
  contentType: string | undefined;
}
let server: http.Server;
let url: string;
let received: Received[] = [];
/** Status codes to answer, in order; 200 after the list runs out. */
let answers: number[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        at: Date.now(),
        body: Buffer.concat(chunks).toString('utf8'),
        signature: req.headers['x-strata-signature'] as string | undefined,
        contentType: req.headers['content-type'],
      });
      res.statusCode = answers.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const event: AlertEvent = {
  event: 'opened',
  sentAt: '2026-12-01T10:00:00.000Z',
  alert: {
    ruleId: 'nulls',
    subject: 'churn/v3/user_clicks:clicks_1h',
    model: 'churn',
    status: 'open',
    severity: 'critical',
    metric: 'null_rate',
    value: 0.4,
    at: 0,
    streak: 1,
    streakBefore: 0,
    openedAt: 1,
    openedAtWindow: 0,
    delivered: false,
    suppressed: 0,
    message: 'null_rate > 0.1: churn/v3/user_clicks:clicks_1h is 0.4',
  },
};

function verify(r: Received): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`);
  const got = Buffer.from(r.signature ?? '');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

describe('alert webhook', () => {
  it('retries a failed first attempt with backoff and signs every attempt with HMAC-SHA256 of the body', async () => {
    received = [];
    answers = [503];
    await new WebhookSink({ url, secret: SECRET, backoffMs: 100 }).send(event);
    expect(received).toHaveLength(2);
    expect(received.every(verify)).toBe(true);
    expect(received[1]!.at - received[0]!.at).toBeGreaterThanOrEqual(95);
    expect(received[0]!.contentType).toBe('application/json');
    expect(JSON.parse(received[1]!.body)).toEqual(event);
    // A tampered body would not verify.
    expect(verify({ ...received[1]!, body: received[1]!.body.replace('0.4', '0.5') })).toBe(false);
  });

  it('does not retry a 4xx refusal, and fails after the last attempt so the alert stays undelivered', async () => {
    received = [];
    answers = [400];
    await expect(new WebhookSink({ url, secret: SECRET, backoffMs: 10 }).send(event)).rejects.toThrow(/answered 400/);
    expect(received).toHaveLength(1);
    received = [];
    answers = [500, 502, 503];
    await expect(new WebhookSink({ url, backoffMs: 10, attempts: 3 }).send(event)).rejects.toThrow(/answered 503/);
    expect(received).toHaveLength(3);
    expect(received[0]!.signature).toBeUndefined(); // no secret configured: unsigned
  });
});
