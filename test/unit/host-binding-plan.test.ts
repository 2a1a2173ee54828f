/**
 * Indexing: every binding is one the host serves, or the start is refused naming the function,
 * the binding and its type; %SETTING% references resolve; templates parse.
 */
import { describe, expect, it } from 'vitest';
import { HOST_BINDINGS, planApp } from '../../local/bindings/plan';
import type { Binding, RegisteredFunction } from '../../local/functions-core';

function fn(name: string, bindings: Record<string, Binding>): RegisteredFunction {
  const [triggerKey, trigger] = Object.entries(bindings).find(([, b]) => /trigger$/i.test(b.type))!;
  return {
    id: name,
    name,
    metadata: { name, bindings },
    triggerKey,
    trigger,
    callback: () => undefined,
    scriptFile: undefined,
  };
}
const http = {
  t: { type: 'httpTrigger', direction: 'in' as const, authLevel: 'anonymous' },
  $return: { type: 'http', direction: 'out' as const },
};
const catalog = {
  kinds: [...HOST_BINDINGS, { type: 'orchestrationTrigger', direction: 'in' as const }],
  notRun: { entityTrigger: 'a Durable entity: not run here' },
};

describe('binding plan', () => {
  it('resolves %SETTING% in every property and parses templates of storage bindings', () => {
    const plan = planApp(
      [
        fn('backup', {
          ...http,
          out: { type: 'blob', direction: 'out', path: '%CONTAINER%/{name}-{rand-guid}.json', connection: '' },
        }),
        fn('tick', { t: { type: 'timerTrigger', direction: 'in', schedule: '%SCHEDULE%' } }),
      ],
      catalog,
      { CONTAINER: 'backups', SCHEDULE: '0 */5 * * * *' },
    );
    const backup = plan.functions.get('backup')!;
    expect(backup.outputs.map((o) => o.key)).toEqual(['$return', 'out']);
    const out = backup.outputs[1]!;
    expect(out.binding.path).toBe('backups/{name}-{rand-guid}.json');
    expect(out.templates.path!.parameterNames).toEqual(['name', 'rand-guid']);
    expect(plan.functions.get('tick')!.trigger.schedule).toBe('0 */5 * * * *');
  });

  it('takes a five-field cron schedule as the Functions host does', () => {
    const plan = planApp(
      [fn('tick', { t: { type: 'timerTrigger', direction: 'in', schedule: '%SCHEDULE%' } })],
      catalog,
      { SCHEDULE: '*/5 * * * *' },
    );
    expect(plan.functions.get('tick')!.trigger.schedule).toBe('*/5 * * * *');
  });

  it('refuses bindings the host does not serve, naming function, binding and type, all at once', () => {
    expect(() =>
      planApp(
        [
          fn('toCosmos', { ...http, doc: { type: 'cosmosDB', direction: 'out', databaseName: 'd' } }),
          fn('onBus', { t: { type: 'serviceBusTrigger', direction: 'in', queueName: 'q' } }),
          fn('fine', http),
        ],
        catalog,
        {},
      ),
    ).toThrow(
      /2 bindings cannot be served:\n {2}function 'toCosmos': binding 'doc' \(cosmosDB, out\) is not supported by the local host.*\n {2}function 'onBus': binding 't' \(serviceBusTrigger, in\) is not supported/s,
    );
  });

  it('refuses a direction the type does not have, a missing required property, a missing setting and a bad template', () => {
    expect(() =>
      planApp([fn('f', { ...http, q: { type: 'queue', direction: 'in', queueName: 'x' } })], catalog, {}),
    ).toThrow(/binding 'q' \(queue, in\) is not supported/);
    expect(() => planApp([fn('f', { ...http, b: { type: 'blob', direction: 'in' } })], catalog, {})).toThrow(
      /binding 'b' \(blob, in\): "path" must be set/,
    );
    expect(() =>
      planApp([fn('f', { ...http, b: { type: 'blob', direction: 'out', path: '%NOPE%/x' } })], catalog, {}),
    ).toThrow(/%NOPE% refers to an app setting that is not set/);
    expect(() =>
      planApp([fn('f', { ...http, b: { type: 'blob', direction: 'out', path: 'c/{oops' } })], catalog, {}),
    ).toThrow(/binding 'b' \(blob, out\): "c\/\{oops": unbalanced/);
    expect(() =>
      planApp([fn('f', { ...http, b: { type: 'blob', direction: 'in', path: 'c/x', sdkBinding: true } })], catalog, {}),
    ).toThrow(/sdkBinding/);
    expect(() =>
      planApp(
        [fn('f', { ...http, q: { type: 'queue', direction: 'out', queueName: 'x', connection: 'OTHER_STORAGE' } })],
        catalog,
        {},
      ),
    ).toThrow(
      `function 'f': binding 'q' (queue, out): connection "OTHER_STORAGE": no app setting "OTHER_STORAGE" (or "AzureWebJobsOTHER_STORAGE") holds a storage connection string`,
    );
    expect(
      planApp(
        [fn('f', { ...http, q: { type: 'queue', direction: 'out', queueName: 'x', connection: 'Storage' } })],
        catalog,
        { AzureWebJobsStorage: 'UseDevelopmentStorage=true' },
      ).functions.get('f')!.outputs,
    ).toHaveLength(2);
  });

  it('refuses a schedule that is not NCRONTAB and a malformed route, naming the function', () => {
    expect(() =>
      planApp([fn('tick', { t: { type: 'timerTrigger', direction: 'in', schedule: '*/5 * * *' } })], catalog, {}),
    ).toThrow(/^function 'tick': binding 't' \(timerTrigger, in\): .*schedule/);
    expect(() =>
      planApp(
        [
          fn('web', {
            t: { type: 'httpTrigger', direction: 'in', route: 'a/{*rest}/b' },
            $return: { type: 'http', direction: 'out' },
          }),
        ],
        catalog,
        {},
      ),
    ).toThrow(
      /^function 'web': binding 't' \(httpTrigger, in\): route "a\/\{\*rest\}\/b": a catch-all must be the last segment/,
    );
  });

  it('starts with a warning for types an extension registers but does not run', () => {
    const plan = planApp([fn('counter', { t: { type: 'entityTrigger', direction: 'in' } })], catalog, {});
    expect(plan.warnings).toEqual(["function 'counter': a Durable entity: not run here"]);
  });
});
