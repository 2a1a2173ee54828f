/**
 * Binding expressions resolve as the Functions host resolves them: app settings, binding data
 * (case-insensitive, dotted), the built-ins and .NET date formats, with the host's errors.
 */
import { describe, expect, it } from 'vitest';
import { BindingExpressionError, Guid, parseTemplate, resolveAppSettings } from '../../local/bindings/expressions';
import { formatDotNetDate } from '../../local/bindings/dotnet-format';
import { bindingDataFor } from '../../local/bindings/binding-data';
import type { RegisteredFunction } from '../../local/functions-core';

const at = new Date('2024-05-07T09:04:03.120Z');
const data = (d: Record<string, unknown>) => ({ ...d, sys: { MethodName: 'fn', UtcNow: at, RandGuid: new Guid() } });

describe('app settings (%NAME%)', () => {
  it('replaces every reference and refuses one that is not set, naming it', () => {
    expect(resolveAppSettings('%HUB%-%ENV%', { HUB: 'clicks', ENV: 'dev' })).toBe('clicks-dev');
    expect(() => resolveAppSettings('%NOPE%', {})).toThrow(/%NOPE% refers to an app setting that is not set/);
  });
});

describe('templates ({name})', () => {
  it('binds names case-insensitively and walks into objects', () => {
    const t = parseTemplate('backups/{backupPath}/{Order.Customer.id}.json');
    expect(t.parameterNames).toEqual(['backupPath', 'Order']);
    expect(t.bind(data({ BACKUPPATH: 'a/b', order: { customer: { ID: 42 } } }))).toBe('backups/a/b/42.json');
  });

  it('{DateTime} is the invocation time as yyyy-MM-ddTHH-mm-ssK, with .NET formats after a colon', () => {
    expect(parseTemplate('logs/{DateTime}.txt').bind(data({}))).toBe('logs/2024-05-07T09-04-03Z.txt');
    expect(parseTemplate('{DateTime:yyyy/MM/dd}/{datetime:HH}h').bind(data({}))).toBe('2024/05/07/09h');
    expect(parseTemplate('{sys.UtcNow:o}').bind(data({}))).toBe('2024-05-07T09:04:03.1200000Z');
  });

  it('binding data wins over the built-ins, as in the host', () => {
    expect(parseTemplate('{DateTime}').bind(data({ DateTime: 'from-the-message' }))).toBe('from-the-message');
  });

  it('{rand-guid} is a new lowercase GUID each time, in the asked format', () => {
    const t = parseTemplate('{rand-guid}|{rand-guid:N}|{sys.randguid:B}');
    const [a, b, c] = t.bind(data({})).split('|');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(b).toMatch(/^[0-9a-f]{32}$/);
    expect(c).toMatch(/^\{[0-9a-f-]{36}\}$/);
    expect(a!.replace(/-/g, '')).not.toBe(b);
  });

  it('writes numbers and booleans as the host does, and literal braces with {{ }}', () => {
    expect(parseTemplate('{n}-{ok}-{{x}}').bind(data({ n: 7, ok: true }))).toBe('7-True-{x}');
    expect(parseTemplate('{sys.MethodName}').bind(data({}))).toBe('fn');
  });

  it("fails with the host's message for a name with no value, and refuses objects", () => {
    expect(() => parseTemplate('{missing}').bind(data({}))).toThrow("No value for named parameter 'missing'.");
    expect(() => parseTemplate('{a.b}').bind(data({ a: {} }))).toThrow(/Error while accessing 'b'/);
    expect(() => parseTemplate('{o}').bind(data({ o: { x: 1 } }))).toThrow(/is an object/);
  });

  it('refuses malformed templates when they are parsed (at start-up)', () => {
    expect(() => parseTemplate('a{b')).toThrow(BindingExpressionError);
    expect(() => parseTemplate('a{}')).toThrow(/empty/);
    expect(() => parseTemplate('{my-name}')).toThrow(/parameter name 'my-name' is invalid/);
  });
});

describe('.NET date formats', () => {
  it('custom specifiers, quotes and escapes', () => {
    expect(formatDotNetDate(at, "dddd d MMM yy, h:mm tt 'at' fff\\z")).toBe('Tuesday 7 May 24, 9:04 AM at 120z');
    expect(formatDotNetDate(at, 'FFF|ffff|%d')).toBe('12|1200|7');
  });
  it('the invariant standard formats', () => {
    expect(formatDotNetDate(at, 's')).toBe('2024-05-07T09:04:03');
    expect(formatDotNetDate(at, 'u')).toBe('2024-05-07 09:04:03Z');
    expect(formatDotNetDate(at, 'R')).toBe('Tue, 07 May 2024 09:04:03 GMT');
  });
});

describe('binding data of an invocation', () => {
  const fn = (type: string) =>
    ({ name: 'f', triggerKey: 't', trigger: { type, direction: 'in' } }) as unknown as RegisteredFunction;

  it('HTTP: body properties, then query, then route values; Query and Headers objects', () => {
    const body = Buffer.from(JSON.stringify({ id: 'from-body', only: 'body' }));
    const d = bindingDataFor(
      fn('httpTrigger'),
      {
        inputData: [
          {
            name: 't',
            data: {
              http: {
                query: { id: 'from-query', code: 'secret' },
                params: { id: 'from-route' },
                headers: { 'x-a': '1' },
                body: { bytes: body },
              },
            },
          },
        ],
      },
      at,
    );
    expect(d).toMatchObject({ id: 'from-route', only: 'body', Query: { id: 'from-query' }, Headers: { 'x-a': '1' } });
    expect(d.code).toBeUndefined();
  });

  it("activity: an object input's properties (the backup sample's {backupPath}), the input as data, and instanceId", () => {
    const d = bindingDataFor(
      fn('activityTrigger'),
      {
        inputData: [{ name: 't', data: { string: '{"backupPath":"site/a.txt","filePath":"/srv/a.txt"}' } }],
        triggerMetadata: { instanceId: { string: 'abc' } },
      },
      at,
    );
    expect(parseTemplate('backups/{backupPath}').bind(d)).toBe('backups/site/a.txt');
    expect(parseTemplate('{instanceId}/{data.filePath}').bind(d)).toBe('abc//srv/a.txt');
  });

  it("queue: a JSON message's properties, and the trigger metadata", () => {
    const d = bindingDataFor(
      fn('queueTrigger'),
      {
        inputData: [{ name: 't', data: { string: '{"orderId":"o-1"}' } }],
        triggerMetadata: { Id: { string: 'm-1' }, DequeueCount: { json: '2' } },
      },
      at,
    );
    expect(d).toMatchObject({ orderId: 'o-1', Id: 'm-1', DequeueCount: 2 });
    expect((d.sys as { UtcNow: Date }).UtcNow).toBe(at);
  });
});
