/**
 * Several hosts consuming one local hub, as Azure Functions instances share an Event Hub: three
 * member processes (test/fixtures/bus-member.ts, compiled by `npm run build`) on one Azurite
 * split 8 partitions 3/3/2, events published by yet another process's bus reach exactly one
 * owner each, one member killed with SIGKILL mid-stream has its partitions taken over after the
 * ownership expiry from their last checkpoints (nothing lost; what it handled past its last
 * checkpoint is delivered again, and only that), and a member started afterwards gets its share.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useAzurite } from '../helpers/storage';
import { until } from '../helpers/wait';
import { storageFor } from '../../shared/azure/storage';
import { LocalEventBus } from '../../local/eventhubs/bus';
import { OwnershipStore } from '../../local/eventhubs/ownership';

const ROOT = path.resolve(__dirname, '../..');
const HUB = 'clicks';
const PARTITIONS = 8;
const EXPIRY_MS = 2000;

interface Delivery {
  owner: string;
  partition: string;
  first: number;
  last: number;
}

const storage = useAzurite('strata-ownership-');
const members = new Map<string, { child: ChildProcess; stderr: string[] }>();
const deliveries: Delivery[] = [];

function startMember(owner: string): Promise<void> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/test/fixtures/bus-member.js')], {
    env: {
      ...process.env,
      STRATA_TEST_STORAGE: storage.connectionString,
      STRATA_TEST_OWNER: owner,
      STRATA_TEST_HUB: HUB,
      STRATA_TEST_PARTITIONS: String(PARTITIONS),
      STRATA_TEST_EXPIRY_MS: String(EXPIRY_MS),
      STRATA_TEST_INTERVAL_MS: '300',
      STRATA_TEST_WORK_MS: '15',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const member = { child, stderr: [] as string[] };
  members.set(owner, member);
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const l of lines) if (l) deliveries.push(JSON.parse(l) as Delivery);
  });
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      member.stderr.push(chunk.toString('utf8'));
      if (member.stderr.join('').includes(`ready ${owner}`)) resolve();
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`member ${owner} exited (${code ?? signal}) before it was ready: ${member.stderr.join('')}`)),
    );
  });
}

afterAll(async () => {
  await Promise.all(
    [...members.values()].map(({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      return exited;
    }),
  );
});

async function ownersNow(): Promise<Map<string, string[]>> {
  const store = new OwnershipStore(await storageFor(storage.connectionString).container('strata-local-eventhubs'));
  const out = new Map<string, string[]>();
  for (const r of await store.list(HUB, 'ingest')) {
    if (!r.ownerId || Date.now() - r.modifiedAt >= EXPIRY_MS) continue;
    out.set(r.ownerId, [...(out.get(r.ownerId) ?? []), r.partitionId].sort());
  }
  return out;
}

const shares = (owners: Map<string, string[]>) => [...owners.values()].map((l) => l.length).sort();

/** Every (partition, sequence number) delivered, with the members that handled it. */
function handled(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of deliveries)
    for (let s = d.first; s <= d.last; s++)
      out.set(`${d.partition}/${s}`, [...(out.get(`${d.partition}/${s}`) ?? []), d.owner]);
  return out;
}

describe('local event bus partitions shared by several hosts', () => {
  it('balances, survives a SIGKILL without losing an event, and rebalances when a host starts', async () => {
    await Promise.all(['m1', 'm2', 'm3'].map(startMember));
    await until('three members owning 3, 3 and 2 of the 8 partitions', async () => {
      const owners = await ownersNow();
      return owners.size === 3 && shares(owners).join() === '2,3,3' ? owners : undefined;
    });

    // A publisher of its own (another host's HTTP endpoint, the CLI): it owns nothing.
    const publisher = new LocalEventBus({
      container: await storageFor(storage.connectionString).container('strata-local-eventhubs'),
      partitionCount: PARTITIONS,
      log: () => undefined,
    });
    const sent = new Map<string, number>(); // partition -> events published
    const publish = async (from: number, count: number) => {
      for (let i = from; i < from + count; i += 100) {
        const r = await publisher.publish(
          HUB,
          Array.from({ length: Math.min(100, from + count - i) }, (_, j) => ({
            body: { n: i + j },
            partitionKey: `user-${(i + j) % 97}`,
          })),
        );
        for (const [p, { count: c }] of Object.entries(r.partitions)) sent.set(p, (sent.get(p) ?? 0) + c);
      }
    };
    await publish(0, 1500);
    await until(
      'some of the first events delivered by m2',
      async () => deliveries.some((d) => d.owner === 'm2') || undefined,
    );
    const m2 = members.get('m2')!.child;
    const m2Partitions = (await ownersNow()).get('m2')!;
    m2.kill('SIGKILL');
    await new Promise((r) => m2.once('exit', r));
    await publish(1500, 1500);

    await until('m1 and m3 owning all 8 partitions after m2 died', async () => {
      const owners = await ownersNow();
      return owners.size === 2 && !owners.has('m2') && shares(owners).join() === '4,4' ? owners : undefined;
    });
    const total = [...sent.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(3000);
    await until('every published event handled', async () => {
      const h = handled();
      return (
        [...sent].every(([p, n]) => Array.from({ length: n }, (_, s) => h.has(`${p}/${s}`)).every(Boolean)) || undefined
      );
    });

    // Nothing lost. At-least-once, as on Azure: a partition that changes owner is read again from
    // its last checkpoint, so the batch its old owner was handling (at most 50 events, the batch
    // size) may be handled twice; nothing else is.
    const h = handled();
    const moves = new Map<string, number>();
    const lastOwner = new Map<string, string>();
    for (const d of deliveries) {
      if (lastOwner.has(d.partition) && lastOwner.get(d.partition) !== d.owner)
        moves.set(d.partition, (moves.get(d.partition) ?? 0) + 1);
      lastOwner.set(d.partition, d.owner);
    }
    for (let p = 0; p < PARTITIONS; p++) {
      const twice = [...h].filter(([key, owners]) => key.startsWith(`${p}/`) && owners.length > 1).length;
      expect(twice, `partition ${p}: events handled twice (moves: ${moves.get(String(p)) ?? 0})`).toBeLessThanOrEqual(
        50 * (moves.get(String(p)) ?? 0),
      );
    }
    // m2's partitions were read on by the survivors.
    for (const p of m2Partitions)
      expect(
        deliveries.some((d) => d.partition === p && d.owner !== 'm2'),
        `partition ${p} after m2 died`,
      ).toBe(true);
    // Per member and partition, batches arrive in sequence order.
    for (const owner of ['m1', 'm3']) {
      for (let p = 0; p < PARTITIONS; p++) {
        const firsts = deliveries.filter((d) => d.owner === owner && d.partition === String(p)).map((d) => d.first);
        expect(firsts, `${owner} partition ${p}`).toEqual([...firsts].sort((a, b) => a - b));
      }
    }

    // A new host takes its share from the others (one steal per round).
    await startMember('m4');
    await until('m1, m3 and m4 owning 3, 3 and 2 partitions', async () => {
      const owners = await ownersNow();
      return owners.size === 3 && owners.has('m4') && shares(owners).join() === '2,3,3' ? owners : undefined;
    });
    const before = deliveries.length;
    await publish(3000, 800);
    await until('the last events handled, some by m4', async () => {
      const now = handled();
      return (
        ([...sent].every(([p, n]) => now.has(`${p}/${n - 1}`)) &&
          deliveries.slice(before).some((d) => d.owner === 'm4')) ||
        undefined
      );
    });
  });
});
