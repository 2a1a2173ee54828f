/**
 * Event times for tests that run a host, dated so that its timers leave their features alone.
 *
 *   const { t0, at } = recentTimes()     t0: 40 minutes ago (whole minute); at(m): ISO time m minutes after it
 *
 * The window-flush timer (every 5 minutes) moves the feature clock to now minus the largest
 * lateness (1 h) and writes the windows that changed, so clicks_1h of idle entities falls on
 * time. Events dated 2 h back were within its reach: at a 5-minute mark mid-test it moved
 * clicks_1h of a user with three clicks from 3 to 2 (rightly: on the clock an hour had passed
 * since the first), and a test waiting for 3 waited out its bound. Events from 40 minutes ago
 * on stay ahead of that clock for the next 20 minutes, and every window and TTL covers them.
 */
export function recentTimes(minutesAgo = 40): { t0: number; at: (minutes: number) => string } {
  const t0 = Math.floor((Date.now() - minutesAgo * 60_000) / 60_000) * 60_000;
  return { t0, at: (minutes: number) => new Date(t0 + minutes * 60_000).toISOString() };
}
