/** Who may take leased Durable work (local/durable/leases.ts), and when that follows a crash. */
import { describe, expect, it } from 'vitest';
import { takeover } from '../../local/durable/leases';

const now = new Date('2026-01-01T12:00:00Z');
const later = new Date(now.getTime() + 10_000);
const earlier = new Date(now.getTime() - 1);
const me = { hostId: 'h1', run: 'r2', afterCrash: false, now };

describe('lease takeover', () => {
  it('takes work nobody holds, without counting a crash', () => {
    expect(takeover(undefined, me)).toEqual({ kind: 'free', crashed: false });
  });
  it("leaves work held by this run alone, and takes back an earlier run's at once, a crash only after a crash", () => {
    expect(takeover({ owner: 'h1', run: 'r2', expires: later }, me)).toEqual({ kind: 'ours' });
    const earlierRun = { owner: 'h1', run: 'r1', expires: later };
    expect(takeover(earlierRun, me)).toMatchObject({ kind: 'free', crashed: false });
    expect(takeover(earlierRun, { ...me, afterCrash: true })).toMatchObject({ kind: 'free', crashed: true });
  });
  it("takes another host's work only once its lease expired, as a crash of that host", () => {
    expect(takeover({ owner: 'h2', run: 'x', expires: later }, me)).toEqual({ kind: 'held' });
    expect(takeover({ owner: 'h2', run: 'x', expires: earlier }, me)).toMatchObject({ kind: 'free', crashed: true });
  });
});
