/**
 * Azurite (npm): Blob, Queue and Table on free or given ports, data in a folder.
 *
 *   azuriteCommand(location, ports)   the node arguments that run it (also used by embedded-azurite.ts)
 *   probeAzurite(ports)               which of its three services answer as Azurite right now
 *   startAzurite({ location, ... })   a child process of the caller, for tests and benchmarks
 *
 * A child process, not in-process, so a host that is killed in a crash test leaves the test's
 * storage running, exactly like Azure storage outlives a worker. `npm start`'s own Azurite is
 * a detached process with a pid file instead (embedded-azurite.ts).
 *
 * Accounts: besides the well-known devstoreaccount1, `accounts: ['a1', 'a2']` serves more
 * storage accounts (same key) from the same process: separate containers and tables, so one
 * Azurite per test file can give each test its own isolated "deployment".
 *
 * HTTPS and OAuth: `tls: { cert, key }` (PEM files) serves all three services over https, and
 * `oauth: true` adds `--oauth basic`: Azurite then accepts bearer tokens (it checks issuer,
 * audience and lifetime, not the signature) beside shared keys, which is how tests prove the
 * identity-based clients (shared/azure/client-factory.ts) really sign in with a token.
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { freePort, waitUntilReady } from './ports';
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteConnectionString } from '../../shared/config';

export interface AzuritePorts {
  blob: number;
  queue: number;
  table: number;
}

export interface AzuriteHandle {
  connectionString: string;
  /** http, or https with AzuriteOptions.tls. */
  protocol: 'http' | 'https';
  /** The connection string of another account served by this Azurite (see AzuriteOptions.accounts). */
  connectionStringFor(account: string): string;
  ports: AzuritePorts;
  location: string;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  location: string;
  ports?: Partial<AzuritePorts>;
  /** Write Azurite's own output here (default: discard). */
  logFile?: string;
  /** More storage accounts to serve (lowercase letters and digits, 3-24 characters). */
  accounts?: string[];
  /** Bound on the start (default START_TIMEOUT_MS); progress is reported through onSlow. */
  startTimeoutMs?: number;
  onSlow?: (message: string) => void;
  /** Serve https with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** Accept OAuth bearer tokens (`--oauth basic`; needs tls). */
  oauth?: boolean;
  /** How a port not given is picked (default: freePort; a test can hand out one already taken). */
  pickPort?: () => Promise<number>;
}

const SERVICES = ['blob', 'queue', 'table'] as const;
const SERVER_HEADER: Record<(typeof SERVICES)[number], string> = {
  blob: 'Azurite-Blob',
  queue: 'Azurite-Queue',
  table: 'Azurite-Table',
};

/** Azurite is a devDependency (the deployment package leaves it out): say so when it is missing. */
function azuriteEntry(): string {
  try {
    return require.resolve('azurite/dist/src/azurite.js');
  } catch {
    throw new Error(
      'azurite is not installed: it is a devDependency, so run `npm ci` without --omit=dev, or set AzureWebJobsStorage to a storage account',
    );
  }
}

export function azuriteCommand(
  location: string,
  ports: AzuritePorts,
  security: Pick<AzuriteOptions, 'tls' | 'oauth'> = {},
): string[] {
  if (security.oauth && !security.tls)
    throw new Error('Azurite accepts OAuth tokens over https only: pass tls with oauth');
  return [
    azuriteEntry(),
    '--silent',
    '--skipApiVersionCheck',
    '--loose',
    '--disableTelemetry',
    '--location',
    location,
    '--blobPort',
    String(ports.blob),
    '--queuePort',
    String(ports.queue),
    '--tablePort',
    String(ports.table),
    ...(security.tls ? ['--cert', security.tls.certFile, '--key', security.tls.keyFile] : []),
    ...(security.oauth ? ['--oauth', 'basic'] : []),
  ];
}

/** AZURITE_ACCOUNTS for the default account plus `extra` (all with the well-known key). */
export function azuriteAccountsEnv(extra: readonly string[]): string {
  for (const a of extra)
    if (!/^[a-z0-9]{3,24}$/.test(a))
      throw new Error(`Azurite account "${a}" must be 3-24 lowercase letters and digits`);
  return [AZURITE_ACCOUNT, ...extra].map((a) => `${a}:${AZURITE_KEY}`).join(';');
}

/**
 * Whether one port answers HTTP with Azurite's Server header for that service. Over https the
 * probe does not verify the certificate: it asks only "is Azurite up", and sends nothing secret.
 */
function answersAs(port: number, server: string, protocol: 'http' | 'https' = 'http'): Promise<boolean> {
  return new Promise((resolve) => {
    const get =
      protocol === 'https'
        ? (o: https.RequestOptions, cb: (res: http.IncomingMessage) => void) =>
            https.get({ ...o, rejectUnauthorized: false }, cb)
        : http.get;
    const req = get(
      { host: '127.0.0.1', port, path: '/', agent: false, timeout: 3000, headers: { connection: 'close' } },
      (res) => {
        res.resume();
        resolve(String(res.headers.server ?? '').startsWith(server));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Which services answer as Azurite now. */
export async function probeAzurite(ports: AzuritePorts): Promise<Record<(typeof SERVICES)[number], boolean>> {
  const [blob, queue, table] = await Promise.all(SERVICES.map((s) => answersAs(ports[s], SERVER_HEADER[s])));
  return { blob: blob!, queue: queue!, table: table! };
}

/** Wait until all three services answer as Azurite (bounded, progress through onSlow). */
export async function waitForAzurite(
  ports: AzuritePorts,
  opts: {
    timeoutMs?: number;
    onSlow?: (m: string) => void;
    abandoned?: () => string | undefined;
    service?: string;
    protocol?: 'http' | 'https';
  } = {},
): Promise<void> {
  const checks = Object.fromEntries(
    SERVICES.map((s) => [`${s} (127.0.0.1:${ports[s]})`, () => answersAs(ports[s], SERVER_HEADER[s], opts.protocol)]),
  );
  await waitUntilReady(checks, { service: opts.service ?? 'Azurite', ...opts });
}

export function accountConnectionString(
  ports: AzuritePorts,
  account: string,
  protocol: 'http' | 'https' = 'http',
): string {
  const s = azuriteConnectionString('127.0.0.1', ports).replaceAll(AZURITE_ACCOUNT, account);
  return protocol === 'https' ? s.replaceAll('http', 'https') : s;
}

/** Starts with ports picked here this many times before giving up (see startAzurite). */
const PICKED_PORT_ATTEMPTS = 3;

/**
 * Start Azurite and wait until it answers. Ports it is not given are picked free, but another
 * process (a parallel test file, another host) can bind one between the pick and Azurite's own
 * bind, and Azurite then exits at start: with picked ports only, that exit is retried on fresh ones.
 */
export async function startAzurite(opts: AzuriteOptions): Promise<AzuriteHandle> {
  const picked = !opts.ports?.blob || !opts.ports?.queue || !opts.ports?.table;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startAzuriteOnce(opts);
    } catch (e) {
      if (!(e instanceof AzuriteExitedAtStart) || !picked || attempt >= PICKED_PORT_ATTEMPTS) throw e;
      console.warn(`[azurite ${opts.location}] exited at start (a picked port taken?): retrying on fresh ports`);
    }
  }
}

class AzuriteExitedAtStart extends Error {}

async function startAzuriteOnce(opts: AzuriteOptions): Promise<AzuriteHandle> {
  fs.mkdirSync(opts.location, { recursive: true });
  const pick = opts.pickPort ?? freePort;
  const ports = {
    blob: opts.ports?.blob ?? (await pick()),
    queue: opts.ports?.queue ?? (await pick()),
    table: opts.ports?.table ?? (await pick()),
  };
  const out = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
  const env = opts.accounts?.length
    ? { ...process.env, AZURITE_ACCOUNTS: azuriteAccountsEnv(opts.accounts) }
    : process.env;
  const protocol = opts.tls ? 'https' : 'http';
  const child: ChildProcess = spawn(process.execPath, azuriteCommand(opts.location, ports, opts), {
    stdio: ['ignore', out, out],
    env,
  });
  if (typeof out === 'number') fs.closeSync(out);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  try {
    await waitForAzurite(ports, {
      protocol,
      ...(opts.startTimeoutMs !== undefined ? { timeoutMs: opts.startTimeoutMs } : {}),
      onSlow: opts.onSlow ?? ((m) => console.warn(`[azurite ${opts.location}] ${m}`)),
      abandoned: () => (exited ? `it exited during start (location ${opts.location})` : undefined),
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw exited ? new AzuriteExitedAtStart((e as Error).message) : e;
  }
  return {
    connectionString: accountConnectionString(ports, AZURITE_ACCOUNT, protocol),
    protocol,
    connectionStringFor: (account) => accountConnectionString(ports, account, protocol),
    ports,
    location: opts.location,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitedPromise;
      clearTimeout(t);
    },
  };
}
