/**
 * An app nobody here wrote the host for, laid out as the v4 TypeScript templates lay it out:
 * package.json `main` is a glob (dist/src/{index.js,functions/*.js}), one function per file,
 * src/index.ts turns HTTP streaming on, local.settings.json configures it. Run with
 * `node dist/local/cli.js` in its folder (no --entry, no --port), like `func start`, and used over
 * HTTP like a client would: a blob, table and queue output, a queue trigger with blob and table
 * inputs bound from its message, a durable starter whose check-status links are followed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { TableClient } from '@azure/data-tables';
import { freePort } from '../../local/processes/ports';
import { startHostProcess, HostProcess, ROOT, eventually, runCli } from '../helpers/host-process';
import { useAzurite } from '../helpers/storage';
import { WAIT_MS } from '../helpers/wait';

const FIXTURE = path.join(ROOT, 'test/fixtures/v4-app');
const COMPILED = path.join(ROOT, 'dist/test/fixtures/v4-app');
const storage = useAzurite('v4-app-');
let appDir = '';
let port = 0;
let host: HostProcess;
let base = '';

/** The app folder as a developer has it after `npm run build`: sources' package/host/settings files, and dist/. */
function makeAppDir(name: string, settings: Record<string, unknown>): string {
  const dir = path.join(storage.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['package.json', 'host.json']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'local.settings.json'), JSON.stringify(settings, null, 2));
  fs.mkdirSync(path.join(dir, 'dist'));
  fs.symlinkSync(path.join(COMPILED, 'src'), path.join(dir, 'dist/src'), 'dir');
  return dir;
}

beforeAll(async () => {
  port = await freePort();
  const settings = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'local.settings.json'), 'utf8')) as {
    Host: Record<string, unknown>;
  };
  settings.Host.LocalHttpPort = port;
  appDir = makeAppDir('shop', settings);
  host = await startHostProcess({
    cwd: appDir,
    port,
    portFromSettings: true,
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
    env: { SHOP_OVERRIDE: 'from the environment' },
  });
  base = host.baseUrl;
});
afterAll(async () => {
  await host?.stop();
});

const blobs = () => BlobServiceClient.fromConnectionString(storage.connectionString);
async function blobText(container: string, name: string): Promise<string> {
  return (await blobs().getContainerClient(container).getBlobClient(name).downloadToBuffer()).toString('utf8');
}
async function blobNames(container: string, prefix: string): Promise<string[]> {
  const c = blobs().getContainerClient(container);
  if (!(await c.exists())) return [];
  const out: string[] = [];
  for await (const b of c.listBlobsFlat({ prefix })) out.push(b.name);
  return out;
}

describe('loading the app as the Node worker does', () => {
  it("loads every file package.json main's glob names, index.js first, then the functions in name order", async () => {
    const fns = (await (
      await fetch(`${base}/admin/functions`, { headers: { 'x-functions-key': 'test-admin-key' } })
    ).json()) as Array<{ name: string }>;
    // Registration order is load order: index.js (no functions), then functions/*.js by name.
    expect(fns.map((f) => f.name)).toEqual([
      'archiveOrder',
      'boom',
      'fulfil',
      'fulfilOrder',
      'getOrder',
      'hello',
      'placeOrder',
      'processOrder',
      'reserveStock',
      'ship',
    ]);
    expect(host.output()).toMatch(/processOrder\s+queueTrigger\s+queue order-events/);
  });

  it('applies local.settings.json: Values into the environment (a set variable wins), Host.LocalHttpPort', async () => {
    expect(base).toBe(`http://127.0.0.1:${port}`);
    const r = await fetch(`${base}/api/hello?name=ada`);
    expect(await r.json()).toEqual({
      greeting: 'hello from local.settings.json',
      override: 'from the environment',
      name: 'ada',
    });
    expect(host.output()).toContain(
      "Skipping 'SHOP_OVERRIDE' from local settings as it's already defined in current environment variables.",
    );
  });

  it('applies Host.CORS: preflights answered, allowed origins echoed, others get nothing', async () => {
    const pre = await fetch(`${base}/api/orders/x`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://shop.test',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://shop.test');
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST');
    expect(
      (await fetch(`${base}/api/hello`, { headers: { origin: 'http://shop.test' } })).headers.get(
        'access-control-allow-origin',
      ),
    ).toBe('http://shop.test');
    expect(
      (await fetch(`${base}/api/hello`, { headers: { origin: 'http://evil.test' } })).headers.get(
        'access-control-allow-origin',
      ),
    ).toBeNull();
  });
});

describe('storage bindings and the queue trigger', () => {
  it('an HTTP function writes a blob, a table row and a queue message; the queue trigger reads them back by its message', async () => {
    const r = await fetch(`${base}/api/orders/o-1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer: 'ada', total: 12.5 }),
    });
    expect(r.status).toBe(201);
    expect(await r.json()).toEqual({ orderId: 'o-1' });
    // %ORDERS_CONTAINER% from local.settings.json, {orderId} from the route. With HTTP streaming the
    // response can reach the client before the outputs are written, as in Azure: wait for them.
    const order = await eventually(
      () => blobText('orders', 'o-1.json').catch(() => undefined),
      WAIT_MS,
      'the order blob',
    );
    expect(JSON.parse(order)).toEqual({ orderId: 'o-1', customer: 'ada', total: 12.5 });
    const row = await TableClient.fromConnectionString(storage.connectionString, 'Orders', {
      allowInsecureConnection: true,
    }).getEntity<{ total: number }>('ada', 'o-1');
    expect(row.total).toBe(12.5);
    // The queue trigger ran once: blob input orders/{orderId}.json, table input {customer}/{orderId}, {DequeueCount} and {rand-guid} in its output path.
    const receipts = await eventually(
      async () => {
        const names = await blobNames('receipts', 'o-1/');
        return names.length ? names : undefined;
      },
      WAIT_MS,
      'the receipt blob processOrder writes',
    );
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toMatch(/^o-1\/attempt-1-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.txt$/);
    expect(await blobText('receipts', receipts[0]!)).toMatch(
      /^ada paid 12\.5 \(table: 12\.5, message [0-9a-f-]{36}\)$/,
    );
  });

  it('a table input by route values returns the row, or nothing (404 from the function)', async () => {
    const got = await eventually(
      async () => {
        const r = await fetch(`${base}/api/customers/ada/orders/o-1`);
        return r.status === 200 ? ((await r.json()) as Record<string, unknown>) : undefined;
      },
      WAIT_MS,
      'the order row',
    );
    expect(got).toMatchObject({ PartitionKey: 'ada', RowKey: 'o-1', total: 12.5 });
    expect((await fetch(`${base}/api/customers/ada/orders/nope`)).status).toBe(404);
  });

  it('a message that keeps failing moves to <queue>-poison after maxDequeueCount (host.json: 2)', async () => {
    const queue = new QueueClient(storage.connectionString, 'order-events');
    await queue.sendMessage(Buffer.from(JSON.stringify({ orderId: 'o-bad', customer: 'mallory' })).toString('base64'));
    const poison = new QueueClient(storage.connectionString, 'order-events-poison');
    const moved = await eventually(
      async () => {
        if (!(await poison.exists())) return undefined;
        const { peekedMessageItems } = await poison.peekMessages({ numberOfMessages: 5 });
        return peekedMessageItems.length ? peekedMessageItems : undefined;
      },
      WAIT_MS,
      'the poison message',
    );
    expect(JSON.parse(Buffer.from(moved[0]!.messageText, 'base64').toString('utf8'))).toEqual({
      orderId: 'o-bad',
      customer: 'mallory',
    });
    expect(host.output()).toMatch(
      /Executed 'Functions\.processOrder' \(Failed, Id=[0-9a-f-]{36}, Duration=\d+ms\)\nResult: Failure\nException: Error: refused customer mallory/,
    );
    expect(host.output()).toContain('moved to queue "order-events-poison"');
  });
});

describe('failures are logged as the host logs them', () => {
  it('an HTTP function that throws answers 500; the log names it, its invocation id, the error and its cause', async () => {
    expect((await fetch(`${base}/api/boom`)).status).toBe(500);
    const out = await eventually(
      () => (host.output().includes("Executed 'Functions.boom' (Failed") ? host.output() : undefined),
      WAIT_MS,
      'the failure entry',
    );
    expect(out).toMatch(
      /Executed 'Functions\.boom' \(Failed, Id=[0-9a-f-]{36}, Duration=\d+ms\)\nResult: Failure\nException: Error: cannot reach the warehouse\nStack: at /,
    );
    expect(out).toMatch(/Caused by: Error: ECONNREFUSED 10\.0\.0\.1:443\n {4}at /);
  });
});

describe('a durable starter, followed as a client follows it', () => {
  it('202 with check-status links; polling Location until done, raising the event through sendEventPostUri', async () => {
    const start = await fetch(`${base}/api/fulfil/o-1`, { method: 'POST' });
    expect(start.status).toBe(202);
    const links = (await start.json()) as Record<string, string>;
    const location = start.headers.get('location')!;
    expect(location).toBe(links.statusQueryGetUri);
    expect(location.startsWith(`${base}/runtime/webhooks/durabletask/instances/${links.id}`)).toBe(true);

    // Poll as a client does until it waits for approval (202 while running).
    const waiting = await eventually(
      async () => {
        const r = await fetch(location);
        const s = (await r.json()) as { runtimeStatus: string; customStatus: unknown };
        return r.status === 202 && s.customStatus === 'awaiting approval' ? s : undefined;
      },
      WAIT_MS,
      'the orchestration to wait for approval',
    );
    expect(waiting.runtimeStatus).toBe('Running');

    const raised = await fetch(links.sendEventPostUri!.replace('{eventName}', 'approve'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'lin' }),
    });
    expect(raised.status).toBe(202);
    const done = await eventually(
      async () => {
        const r = await fetch(location);
        return r.status === 200 ? ((await r.json()) as { runtimeStatus: string; output: unknown }) : undefined;
      },
      WAIT_MS,
      'the orchestration to complete',
    );
    expect(done).toMatchObject({
      runtimeStatus: 'Completed',
      output: { reserved: 'reserved o-1', shipped: 'shipped o-1, approved by lin', archived: 'archived o-1' },
    });
    // The activity's blob output, named from its input's orderId and the instance id (the backup sample's pattern).
    expect(JSON.parse(await blobText('archive', `o-1-${links.id}.json`))).toEqual({
      orderId: 'o-1',
      shipped: 'shipped o-1, approved by lin',
    });
    expect((await fetch(links.purgeHistoryDeleteUri!, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(location)).status).toBe(404);
  });
});

describe('the command line', () => {
  it('--help and --version print and start nothing; a bad option or file is one line', async () => {
    const dataDir = path.join(storage.dir, 'never-created');
    const help = await runCli(['--help', '--data-dir', dataDir], { cwd: appDir });
    expect(help.code).toBe(0);
    expect(help.output).toContain('usage: node dist/local/cli.js [start] [options]');
    const version = await runCli(['--version'], { cwd: appDir });
    expect(version).toMatchObject({
      code: 0,
      output: expect.stringMatching(/^strata \d+\.\d+\.\d+ \(local Functions host/),
    });
    const unknown = await runCli(['--prot', '7072', '--data-dir', dataDir], { cwd: appDir });
    expect(unknown).toEqual({
      code: 1,
      output:
        'strata: unknown option --prot for "start"; valid options: --entry, --port, --data-dir, --partitions, --blob-poll-ms, --cors, --cors-credentials, --instances, --restart, --help, --version\n',
    });
    const noFile = await runCli(['send', 'clicks', '--file', path.join(appDir, 'nope.jsonl')], { cwd: appDir });
    expect(noFile).toEqual({ code: 1, output: `strata: --file ${path.join(appDir, 'nope.jsonl')} does not exist\n` });
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it('refuses the port of the running host, saying which host holds it', async () => {
    const env = { AzureWebJobsStorage: storage.connectionString };
    const samePort = await runCli(['--data-dir', path.join(storage.dir, 'other')], { cwd: appDir, env });
    expect(samePort.code).toBe(1);
    expect(samePort.output.trim().split('\n').pop()).toBe(
      `strata: port ${port} is in use by another Strata host (pid ${host.child.pid}, data dir ${path.join(storage.dir, 'data')}): stop it, or pass --port <another port>`,
    );
    // A second host on the same data folder is welcome (several instances: test/e2e/durable-instances.test.ts).
  });

  it('refuses an app with a binding it cannot serve, naming the function and type, before starting anything', async () => {
    const dir = path.join(storage.dir, 'unsupported');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'host.json'), '{"version":"2.0"}');
    fs.writeFileSync(
      path.join(dir, 'app.js'),
      `
      const { app, output } = require(${JSON.stringify(path.join(ROOT, 'node_modules/@azure/functions'))});
      const bus = output.serviceBusQueue({ queueName: 'orders', connection: 'SB' });
      app.http('toBus', { authLevel: 'anonymous', extraOutputs: [bus], handler: async (req, ctx) => { ctx.extraOutputs.set(bus, 'x'); return {}; } });
    `,
    );
    const r = await runCli(
      ['--entry', 'app.js', '--port', String(await freePort()), '--data-dir', path.join(dir, 'data')],
      { cwd: dir, env: { AzureWebJobsStorage: storage.connectionString } },
    );
    expect(r.code).toBe(1);
    expect(r.output).toMatch(
      /^strata: function 'toBus': binding 'serviceBus\w*' \(serviceBus, out\) is not supported by the local host/m,
    );
    expect(r.output).not.toMatch(/^\s+at /m);
  });

  it('a missing entry point or an app file that throws is one clear line', async () => {
    const missing = await runCli(['--entry', 'dist/src/nothing/*.js'], { cwd: appDir });
    expect(missing.output.trim()).toBe(
      `strata: entry point "dist/src/nothing/*.js" (in ${appDir}): Found zero files matching the supplied pattern`,
    );
    const dir = path.join(storage.dir, 'throws');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), '{"main":"bad.js"}');
    fs.writeFileSync(path.join(dir, 'bad.js'), 'const x = undefinedThing + 1;\n');
    const bad = await runCli(['--port', '0'], { cwd: dir, env: { AzureWebJobsStorage: storage.connectionString } });
    expect(bad.code).toBe(1);
    expect(bad.output.trim().split('\n')).toHaveLength(1);
    expect(bad.output).toContain(
      `strata: Worker was unable to load entry point "${path.join(dir, 'bad.js')}": undefinedThing is not defined (at `,
    );
  });
});
