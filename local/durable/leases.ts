/**
 * Whether a host may take work held by a lease (an instance's episodes or an activity), and whether
 * taking it follows a crash of the holder. One rule for both, so instances and activities move
 * between hosts alike:
 *   - nobody holds it (never claimed, or released by a clean stop): take it, no crash;
 *   - this run of this host holds it: it is ours already;
 *   - an earlier run of this host holds it: take it back at once (a restarted host never waits for
 *     its own lease); a crash when that run did not stop cleanly;
 *   - another host holds it: only once its lease expired (that host died or hangs), and that is a crash.
 */
import type { LeaseHolder } from './store';

export type Takeover = { kind: 'held' } | { kind: 'ours' } | { kind: 'free'; crashed: boolean; from?: LeaseHolder };

export function takeover(
  h: LeaseHolder | undefined,
  me: { hostId: string; run: string; afterCrash: boolean; now: Date },
): Takeover {
  if (!h) return { kind: 'free', crashed: false };
  if (h.owner === me.hostId) {
    if (h.run === me.run) return { kind: 'ours' };
    return { kind: 'free', crashed: me.afterCrash, from: h };
  }
  return h.expires.getTime() < me.now.getTime() ? { kind: 'free', crashed: true, from: h } : { kind: 'held' };
}
