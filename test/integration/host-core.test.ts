/**
 * The functions-core stand-in receives exactly what the Azure worker receives from the app's
 * own `app.*` calls: no second list of functions.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { functionsCore, fromTyped } from '../../local/functions-core';
import { ROOT } from '../helpers/host-process';

beforeAll(async () => {
  await functionsCore.loadEntry(path.join(ROOT, 'dist/test/fixtures/host-app.js'));
  await functionsCore.finishStartup(ROOT);
});

describe('captured registrations', () => {
  it('HTTP functions arrive with route, methods, auth level and a $return http binding', () => {
    const f = functionsCore.get('hello');
    expect(f.trigger).toMatchObject({
      type: 'httpTrigger',
      direction: 'in',
      route: 'hello/{name?}',
      methods: ['GET', 'POST'],
      authLevel: 'anonymous',
    });
    expect(f.metadata.bindings.$return).toMatchObject({ type: 'http', direction: 'out' });
  });

  it('timer, Event Hubs and blob functions arrive with their trigger properties', () => {
    expect(functionsCore.get('startupTick').trigger).toMatchObject({
      type: 'timerTrigger',
      schedule: '0 0 0 1 1 *',
      runOnStartup: true,
    });
    expect(functionsCore.get('ingest').trigger).toMatchObject({
      type: 'eventHubTrigger',
      eventHubName: 'events',
      cardinality: 'many',
      connection: 'EVENTHUB_CONNECTION',
    });
    expect(functionsCore.get('onDrop').trigger).toMatchObject({ type: 'blobTrigger', path: 'drops/{name}' });
    const out = Object.values(functionsCore.get('publish').metadata.bindings).find((b) => b.type === 'eventHub');
    expect(out).toMatchObject({ direction: 'out', eventHubName: 'out-hub' });
  });

  it('registration is closed once the app has started', () => {
    expect(() =>
      functionsCore.api.registerFunction(
        { name: 'late', bindings: { t: { type: 'httpTrigger', direction: 'in' } } },
        () => undefined,
      ),
    ).toThrow(/only be registered during app startup/);
  });

  it('an invocation runs the app callback and returns the RPC response', async () => {
    const f = functionsCore.get('hello');
    const res = await functionsCore.invoke('hello', {
      inputData: [
        {
          name: f.triggerKey,
          data: {
            http: {
              method: 'GET',
              url: 'http://x/api/hello/z',
              headers: {},
              query: {},
              params: { name: 'z' },
              body: { bytes: Buffer.alloc(0) },
            },
          },
        },
      ],
    });
    const http = res.returnValue!.http as { statusCode: string; body: { bytes: Uint8Array } };
    expect(http.statusCode).toBe('200');
    expect(JSON.parse(Buffer.from(http.body.bytes).toString())).toMatchObject({ name: 'z' });
    expect(fromTyped({ json: '[1]' })).toEqual([1]);
  });
});
