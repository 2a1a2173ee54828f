/**
 * CPU time of the calling thread, for a run's "CPU seconds". Node 20 has only process-wide
 * CPU counters, and a fit shares its process with serving, so this reads the thread's own
 * user + system time from /proc/thread-self/stat (Linux, where Azure Functions and the local
 * host run; 10 ms resolution). Elsewhere it returns null and runs report no CPU time.
 */
import fs from 'node:fs';

/** Linux reports /proc times in USER_HZ, 100 per second on every architecture Node supports. */
const TICKS_PER_SECOND = 100;

export function threadCpuMs(): number | null {
  try {
    const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
    // Fields after the command name (which may hold spaces, so split after its closing paren).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return ((utime + stime) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}
