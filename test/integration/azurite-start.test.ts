/**
 * Azurite on picked ports (local/processes/azurite.ts): another process can bind a picked port
 * between the pick and Azurite's own bind (a parallel test file did so in CI), and Azurite then
 * exits at start. With picked ports that start is retried on fresh ones; with ports given, the
 * caller asked for those, so the failure is reported. Real Azurite, a real listener on the port.
 */
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../../local/processes/azurite';
import { freePort } from '../../local/processes/ports';
import { tempDir } from '../helpers/temp';

const tmp = tempDir('azurite-start-');
afterAll(() => tmp.cleanup());

/** A listener on a free port of 127.0.0.1, where Azurite binds: the port is taken until closed. */
async function takenPort(): Promise<{ port: number; close(): Promise<void> }> {
  const srv = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (srv.address() as net.AddressInfo).port;
  return { port, close: () => new Promise((resolve) => srv.close(() => resolve())) };
}

describe('Azurite started on picked ports', () => {
  it('exits at start when a picked port is taken, and starts again on fresh ports', async () => {
    const taken = await takenPort();
    const picks: number[] = [];
    // The first pick is the taken port, as when another process binds it right after the pick.
    const pickPort = async () => {
      const p = picks.length === 0 ? taken.port : await freePort();
      picks.push(p);
      return p;
    };
    const azurite = await startAzurite({ location: path.join(tmp.dir, 'picked'), pickPort });
    try {
      expect(picks[0]).toBe(taken.port);
      expect(picks.length, 'three ports per start: a second start was made').toBeGreaterThanOrEqual(6);
      expect(Object.values(azurite.ports)).not.toContain(taken.port);
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
        'after-retry',
      );
      await container.create();
      expect(await container.exists()).toBe(true);
    } finally {
      await azurite.stop();
      await taken.close();
    }
  });

  it('with its ports given, a taken one is an error naming the exit, not a start elsewhere', async () => {
    const taken = await takenPort();
    try {
      await expect(
        startAzurite({
          location: path.join(tmp.dir, 'given'),
          ports: { blob: taken.port, queue: await freePort(), table: await freePort() },
        }),
      ).rejects.toThrow(/exited during start/);
    } finally {
      await taken.close();
    }
  });
});
