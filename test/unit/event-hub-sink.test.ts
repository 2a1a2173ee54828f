/**
 * Where the prediction log sends: Event Hubs for an Azure namespace, the local bus only when the
 * app is told it runs on Strata's local host (never because WEBSITE_HOSTNAME is loopback, which
 * `func start` sets too), the Event Hubs emulator when its connection string is configured.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eventHubConnectionKind, eventHubSinkFor, EventHubSink } from '../../shared/azure/event-hub-sink';
import { EMULATOR } from '../helpers/event-hubs-emulator';
import type { EventHubConnection } from '../../shared/azure/connections';

const AZURE = 'Endpoint=sb://strata.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=';
const opened: EventHubSink[] = [];
const sink = (o: { connection?: string | EventHubConnection; localHostUrl?: string }) => {
  const s = eventHubSinkFor('predictions', { ...o, adminKey: 'k' });
  if (s) opened.push(s);
  return s?.target;
};
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

describe('prediction log sink', () => {
  it('knows the three kinds of connection', () => {
    expect(eventHubConnectionKind(AZURE)).toBe('azure');
    expect(eventHubConnectionKind(EMULATOR)).toBe('emulator');
    expect(eventHubConnectionKind('')).toBe('none');
    expect(eventHubConnectionKind(undefined)).toBe('none');
  });

  it('an Azure namespace wins everywhere', () => {
    expect(sink({ connection: AZURE, localHostUrl: 'http://127.0.0.1:7071' })).toBe('event hub predictions (Azure)');
  });

  it('the prediction log sends to a namespace named for the managed identity (no connection string)', () => {
    const identity: EventHubConnection = {
      kind: 'identity',
      setting: 'EVENTHUB_CONNECTION',
      fullyQualifiedNamespace: 'strata.servicebus.windows.net',
      credential: { kind: 'managedIdentity', clientId: 'c1' },
    };
    expect(eventHubConnectionKind(identity)).toBe('azure');
    expect(sink({ connection: identity, localHostUrl: 'http://127.0.0.1:7071' })).toBe(
      'event hub predictions (Azure strata.servicebus.windows.net, managed identity)',
    );
  });

  it('on the local host (told explicitly) the local bus serves, also for the emulator string', () => {
    expect(sink({ localHostUrl: 'http://127.0.0.1:7123' })).toBe(
      'event hub predictions (local bus at http://127.0.0.1:7123)',
    );
    expect(sink({ connection: EMULATOR, localHostUrl: 'http://127.0.0.1:7123' })).toBe(
      'event hub predictions (local bus at http://127.0.0.1:7123)',
    );
  });

  it('under func start (WEBSITE_HOSTNAME=localhost:7071, no local host) it never posts to a local bus', () => {
    process.env.WEBSITE_HOSTNAME = 'localhost:7071';
    try {
      expect(sink({})).toBeUndefined();
      expect(sink({ connection: EMULATOR })).toBe('event hub predictions (Event Hubs emulator)');
    } finally {
      delete process.env.WEBSITE_HOSTNAME;
    }
  });
});
