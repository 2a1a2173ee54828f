/**
 * A blob trigger processes each blob once across several hosts on one storage account (the
 * Functions host's blob receipts, claimed ETag-guarded): two pollers, as two hosts, scan the same
 * container at the same time; every uploaded blob is invoked exactly once between them.
 */
import { describe, expect, it } from 'vitest';
import { useAzurite } from '../helpers/storage';
import { storageFor } from '../../shared/azure/storage';
import { BlobTriggerPoller, parseBlobPath } from '../../local/blob/trigger';

const storage = useAzurite('strata-blob-instances-');

describe('blob triggers on several hosts', () => {
  it('each blob is processed by one host, once', async () => {
    const s = storageFor(storage.connectionString);
    const hostContainer = await s.container('azure-webjobs-hosts');
    const uploads = await s.container('uploads');
    const seen: Array<{ host: string; blob: string }> = [];
    const pollers = ['h1', 'h2'].map(
      (host) =>
        new BlobTriggerPoller(
          s.blobs,
          hostContainer,
          'strata-local',
          [
            {
              functionName: 'onUpload',
              pattern: parseBlobPath('uploads/{name}'),
              invoke: async ({ triggerMetadata }) => {
                // A little work, so both hosts are inside the same blobs at once.
                await new Promise((r) => setTimeout(r, 5));
                seen.push({ host, blob: String(triggerMetadata.name?.string) });
              },
            },
          ],
          60_000,
          () => undefined,
        ),
    );
    const names = Array.from({ length: 30 }, (_, i) => `file-${String(i).padStart(2, '0')}.csv`);
    for (const n of names) await uploads.getBlockBlobClient(n).upload(`row ${n}`, 5 + n.length);
    // Both hosts scan the container at the same time, twice (the second scan finds only receipts).
    for (let round = 0; round < 2; round++) await Promise.all(pollers.map((p) => p.pollOnce()));
    await Promise.all(pollers.map((p) => p.stop()));

    expect(seen.map((e) => e.blob).sort()).toEqual(names);
    // A fresh poller (a third host, or a restart) does not process them again either.
    const late: string[] = [];
    const third = new BlobTriggerPoller(
      s.blobs,
      hostContainer,
      'strata-local',
      [{ functionName: 'onUpload', pattern: parseBlobPath('uploads/{name}'), invoke: async () => void late.push('x') }],
      60_000,
      () => undefined,
    );
    await third.pollOnce();
    expect(late).toEqual([]);
  });
});
