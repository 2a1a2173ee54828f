import { describe, expect, it } from 'vitest';
import { eventHubInvocation, partitionForKey } from '../../local/eventhubs/metadata';
import { toDeliveredEvent, isRealEventHubConnection } from '../../local/eventhubs/azure-source';
import { retryDelayMs } from '../../local/retry';
import { EMULATOR } from '../helpers/event-hubs-emulator';

const pc = {
  eventHubName: 'clicks',
  consumerGroup: '$Default',
  partitionId: '2',
  fullyQualifiedNamespace: 'ns.servicebus.windows.net',
};
const ev = (n: number) => ({
  sequenceNumber: n,
  offset: String(n * 100),
  enqueuedTimeUtc: '2026-01-01T00:00:00.000Z',
  partitionKey: 'u1',
  properties: { p: n },
  body: { n },
});

describe('Event Hubs trigger payloads', () => {
  it('a batch carries the Azure metadata arrays and partition context', () => {
    const inv = eventHubInvocation('trig', 'many', [ev(5), ev(6)], pc);
    expect(JSON.parse(inv.inputData[0]!.data.json!)).toEqual([{ n: 5 }, { n: 6 }]);
    const m = Object.fromEntries(Object.entries(inv.triggerMetadata).map(([k, v]) => [k, JSON.parse(v.json!)]));
    expect(m.SequenceNumberArray).toEqual([5, 6]);
    expect(m.OffsetArray).toEqual(['500', '600']);
    expect(m.PartitionKeyArray).toEqual(['u1', 'u1']);
    expect(m.PropertiesArray).toEqual([{ p: 5 }, { p: 6 }]);
    expect(m.SystemPropertiesArray[0]).toMatchObject({ SequenceNumber: 5, Offset: '500', PartitionKey: 'u1' });
    expect(m.PartitionContext).toEqual({
      ConsumerGroup: '$Default',
      EventHubName: 'clicks',
      FullyQualifiedNamespace: 'ns.servicebus.windows.net',
      PartitionId: '2',
    });
  });

  it('cardinality one carries scalar metadata', () => {
    const inv = eventHubInvocation('trig', 'one', [ev(7)], pc);
    expect(JSON.parse(inv.triggerMetadata.SequenceNumber!.json!)).toBe(7);
    expect(inv.triggerMetadata.Offset!.string).toBe('700');
  });

  it('maps a partition key to the same partition every time', () => {
    const p = partitionForKey('user-17', 4);
    for (let i = 0; i < 5; i++) expect(partitionForKey('user-17', 4)).toBe(p);
    const seen = new Set(Array.from({ length: 200 }, (_, i) => partitionForKey(`u${i}`, 4)));
    expect(seen.size).toBe(4);
  });

  it('events from a real Event Hub take the same shape (bytes bodies parsed as JSON when they are JSON)', () => {
    const d = toDeliveredEvent({
      body: Buffer.from('{"a":1}'),
      sequenceNumber: 9,
      offset: '900' as unknown as number,
      enqueuedTimeUtc: new Date('2026-01-01T00:00:00Z'),
      partitionKey: 'k',
      properties: { x: 1 },
      systemProperties: {},
    } as never);
    expect(d).toEqual({
      sequenceNumber: 9,
      offset: '900',
      enqueuedTimeUtc: '2026-01-01T00:00:00.000Z',
      partitionKey: 'k',
      properties: { x: 1 },
      body: { a: 1 },
    });
  });

  it('tells an Azure namespace from the emulator (which the local bus stands in for) and from nothing', () => {
    expect(
      isRealEventHubConnection('Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=x;SharedAccessKey=y'),
    ).toBe(true);
    expect(isRealEventHubConnection(EMULATOR)).toBe(false);
    expect(isRealEventHubConnection(undefined)).toBe(false);
    expect(isRealEventHubConnection('local')).toBe(false);
  });

  it('retry delays follow the policy', () => {
    expect(retryDelayMs({ retryStrategy: 'fixedDelay', delayInterval: { seconds: 2 } }, 3)).toBe(2000);
    const exp = {
      retryStrategy: 'exponentialBackoff',
      minimumInterval: { seconds: 1 },
      maximumInterval: { seconds: 5 },
    };
    expect([1, 2, 3, 4].map((a) => retryDelayMs(exp, a))).toEqual([1000, 2000, 4000, 5000]);
  });
});
