/**
 * A local host's name among the hosts on one storage: STRATA_HOST_ID, else the machine, the data
 * folder and the host's slot in it (processes/host-lock.ts). A restarted host takes its slot back,
 * so it keeps its name: its Durable leases are its own to take back at once, and its crash
 * accounting and watchdog record follow it. Only Table-key-safe characters.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

export function hostIdentity(
  dataDir: string,
  slot: number,
  env: NodeJS.ProcessEnv = process.env,
): { hostId: string; stateDir: string } {
  const folder = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 8);
  const given = env.STRATA_HOST_ID?.trim();
  const hostId = (given || `${os.hostname()}-${folder}-${slot}`).replace(/[^A-Za-z0-9_.-]/g, '_');
  // Slot 0 keeps its files where a single host always had them.
  return { hostId, stateDir: slot === 0 ? dataDir : path.join(dataDir, `host-${slot}`) };
}
