/**
 * What a connection setting means, decided once from the settings alone (pure: no clients, no
 * network): a connection string, or an identity (endpoints + which credential), in the same
 * setting shapes the Functions host reads for its own triggers and bindings, so one set of app
 * settings serves the host and the code:
 *
 *   <NAME>                          a connection string (wins when set, as in the host)
 *   <NAME>__accountName             storage: https://<account>.{blob,queue,table}.core.windows.net
 *   <NAME>__blobServiceUri, __queueServiceUri, __tableServiceUri   storage endpoints, explicitly
 *   <NAME>__fullyQualifiedNamespace Event Hubs: <namespace>.servicebus.windows.net
 *   <NAME>__credential=managedidentity [+ __clientId | __managedIdentityResourceId]
 *                                   the app's managed identity (user-assigned with a client id)
 *   <NAME>__tenantId + __clientId + __clientSecret   a service principal (local development)
 *   none of these credential keys   DefaultAzureCredential (the developer's sign-in locally),
 *                                   with __clientId as its managed identity if given
 *   REDIS_URL + REDIS_URL__credential / __clientId / ...   Redis with Microsoft Entra ID
 *                                   (Azure Managed Redis), else a key in the URL
 *   APPLICATIONINSIGHTS_AUTHENTICATION_STRING = [ClientId=<id>;]Authorization=AAD
 *                                   telemetry sent with the managed identity (App Service's shape)
 *
 * Refusals (a ConfigError naming the setting and the fix): a cloud resource named without a
 * usable credential (a connection string with no key, an Azure Redis host with neither a password
 * nor an identity), identity endpoints that are not https (tokens never travel in clear), half a
 * service principal, an unresolved Key Vault reference. Azurite is only ever used when the
 * settings say local: UseDevelopmentStorage=true, a connection string whose endpoints are on
 * this machine (127.0.0.1, localhost) or the emulator account, or no storage setting at all
 * outside Azure (the documented zero-config `npm start`). Identity settings never mean Azurite.
 *
 * The factory (client-factory.ts) turns these values into SDK clients; nothing else reads the
 * connection settings.
 */
import type { ErrorDetail } from '../errors';

/** Which token credential signs requests, as the settings describe it. */
export type CredentialSpec =
  | { kind: 'default'; managedIdentityClientId?: string; tenantId?: string }
  | { kind: 'managedIdentity'; clientId?: string; resourceId?: string }
  | { kind: 'clientSecret'; tenantId: string; clientId: string; clientSecret: string };

export type StorageService = 'blob' | 'queue' | 'table';
export type StorageEndpoints = Partial<Record<StorageService, string>>;

export type StorageConnection =
  | { kind: 'connectionString'; setting: string; connectionString: string; local: boolean }
  | { kind: 'identity'; setting: string; endpoints: StorageEndpoints; credential: CredentialSpec };

export type EventHubConnection =
  | { kind: 'connectionString'; setting: string; connectionString: string; emulator: boolean }
  | { kind: 'identity'; setting: string; fullyQualifiedNamespace: string; credential: CredentialSpec };

export type RedisConnection =
  /** The URL carries whatever auth there is (a key as password, or none on a local server). */
  | { kind: 'url'; url: string }
  /** Microsoft Entra ID: a token as password, the principal's object id as user name, refreshed. */
  | { kind: 'identity'; url: string; credential: CredentialSpec };

/** The result of resolving: the value, or the problems that refuse the start. */
export type Resolved<T> = { ok: true; value: T } | { ok: false; problems: ErrorDetail[] };

type Env = Readonly<Record<string, string | undefined>>;

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
export const DEVELOPMENT_STORAGE = 'UseDevelopmentStorage=true';

export function azuriteConnectionString(
  host: string,
  ports: { blob: number; queue: number; table: number },
  account = AZURITE_ACCOUNT,
): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${account}`,
    `AccountKey=${AZURITE_KEY}`,
    `BlobEndpoint=http://${host}:${ports.blob}/${account}`,
    `QueueEndpoint=http://${host}:${ports.queue}/${account}`,
    `TableEndpoint=http://${host}:${ports.table}/${account}`,
  ].join(';');
}

/** Azurite on its default ports: what UseDevelopmentStorage=true means. */
export const DEFAULT_LOCAL_STORAGE = azuriteConnectionString('127.0.0.1', { blob: 10000, queue: 10001, table: 10002 });

const SERVICES: readonly StorageService[] = ['blob', 'queue', 'table'];
const ALL_SERVICES = SERVICES;
/** Credential keys of a connection (any of them makes a Redis URL identity-based). */
const CREDENTIAL_KEYS = ['credential', 'clientId', 'managedIdentityResourceId', 'tenantId', 'clientSecret'] as const;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/i;
/** Hosts of Azure Cache for Redis and Azure Managed Redis: cloud resources that need a credential. */
const AZURE_REDIS_HOST =
  /\.(redis\.azure\.net|redis\.cache\.windows\.net|redisenterprise\.cache\.azure\.net|redis\.cache\.chinacloudapi\.cn|redis\.cache\.usgovcloudapi\.net)$/i;
const KEY_VAULT_REFERENCE = /^@Microsoft\.KeyVault\(/i;

const value = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};
const sub = (env: Env, name: string, key: string) => value(env, `${name}__${key}`);
const fail = <T>(problems: ErrorDetail[]): Resolved<T> => ({ ok: false, problems });
const okay = <T>(v: T): Resolved<T> => ({ ok: true, value: v });

/** key=value pairs of a connection string, keys lowercased. */
export function connectionStringParts(s: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const piece of s.split(';')) {
    const eq = piece.indexOf('=');
    if (eq > 0) parts.set(piece.slice(0, eq).trim().toLowerCase(), piece.slice(eq + 1).trim());
  }
  return parts;
}

function unresolvedReference(setting: string, v: string): ErrorDetail | undefined {
  if (!KEY_VAULT_REFERENCE.test(v)) return undefined;
  return {
    where: setting,
    problem: `is an unresolved Key Vault reference (${v}): grant the app's identity "Key Vault Secrets User" on the vault and check the secret name; the platform resolves references before the app starts`,
  };
}

/**
 * The credential the keys of `name` describe (see the design note); problems name the setting.
 */
export function credentialFromSettings(name: string, env: Env): Resolved<CredentialSpec> {
  const credential = sub(env, name, 'credential');
  const clientId = sub(env, name, 'clientId');
  const resourceId = sub(env, name, 'managedIdentityResourceId');
  const tenantId = sub(env, name, 'tenantId');
  const clientSecret = sub(env, name, 'clientSecret');
  if (credential !== undefined) {
    if (credential.toLowerCase() !== 'managedidentity') {
      return fail([
        {
          where: `${name}__credential`,
          problem: `must be "managedidentity" (or unset for DefaultAzureCredential), got "${credential}"`,
        },
      ]);
    }
    if (clientId && resourceId)
      return fail([
        {
          where: `${name}__clientId`,
          problem: `and ${name}__managedIdentityResourceId both name a managed identity: set one`,
        },
      ]);
    if (clientSecret)
      return fail([
        {
          where: `${name}__clientSecret`,
          problem: `is set with ${name}__credential=managedidentity: a managed identity has no secret; remove one of them`,
        },
      ]);
    return okay({ kind: 'managedIdentity', ...(clientId ? { clientId } : {}), ...(resourceId ? { resourceId } : {}) });
  }
  if (clientSecret) {
    const missing = [!tenantId && 'tenantId', !clientId && 'clientId'].filter((x): x is string => !!x);
    if (missing.length) {
      return fail(
        missing.map((k) => ({
          where: `${name}__${k}`,
          problem: `is not set: a service principal needs ${name}__tenantId, __clientId and __clientSecret`,
        })),
      );
    }
    return okay({ kind: 'clientSecret', tenantId: tenantId!, clientId: clientId!, clientSecret: clientSecret! });
  }
  return okay({
    kind: 'default',
    ...(clientId ? { managedIdentityClientId: clientId } : {}),
    ...(tenantId ? { tenantId } : {}),
  });
}

function hasAny(env: Env, name: string, keys: readonly string[]): string | undefined {
  return keys.find((k) => sub(env, name, k) !== undefined);
}

/** An endpoint URL a token may be sent to: https (the SDKs refuse bearer tokens over http). */
function httpsUrl(setting: string, v: string): Resolved<string> {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return fail([
      { where: setting, problem: `must be a URL like https://<account>.blob.core.windows.net, got "${v}"` },
    ]);
  }
  if (u.protocol !== 'https:')
    return fail([
      { where: setting, problem: `must be an https:// URL (tokens are never sent over plain HTTP), got "${v}"` },
    ]);
  return okay(v.replace(/\/+$/, ''));
}

/** Whether a storage connection string points at this machine (Azurite) or the emulator account. */
export function isLocalStorageConnectionString(s: string): boolean {
  if (s === DEVELOPMENT_STORAGE) return true;
  const parts = connectionStringParts(s);
  if (parts.get('accountname') === AZURITE_ACCOUNT) return true;
  const endpoints = ['blobendpoint', 'queueendpoint', 'tableendpoint']
    .map((k) => parts.get(k))
    .filter((x): x is string => !!x);
  if (!endpoints.length) return false;
  return endpoints.every((e) => {
    try {
      return LOOPBACK.test(new URL(e).hostname);
    } catch {
      return false;
    }
  });
}

function storageConnectionString(setting: string, s: string): Resolved<StorageConnection> {
  if (s === DEVELOPMENT_STORAGE)
    return okay({ kind: 'connectionString', setting, connectionString: DEFAULT_LOCAL_STORAGE, local: true });
  const parts = connectionStringParts(s);
  if (!parts.has('accountname') && !['blobendpoint', 'queueendpoint', 'tableendpoint'].some((k) => parts.has(k))) {
    return fail([
      {
        where: setting,
        problem:
          'must be a storage connection string (AccountName=...;AccountKey=... or endpoints), UseDevelopmentStorage=true, or unset with ' +
          `${setting}__accountName for the managed identity`,
      },
    ]);
  }
  const local = isLocalStorageConnectionString(s);
  if (!local && !parts.get('accountkey') && !parts.get('sharedaccesssignature')) {
    return fail([
      {
        where: setting,
        problem: `names storage ${parts.get('accountname') ?? parts.get('blobendpoint') ?? ''} without a credential (no AccountKey or SharedAccessSignature): add one, or remove ${setting} and set ${setting}__accountName to use the managed identity`,
      },
    ]);
  }
  return okay({ kind: 'connectionString', setting, connectionString: s, local });
}

export interface StorageResolveOptions {
  /** The services the caller uses: identity settings must give an endpoint for each (default all three). */
  services?: readonly StorageService[];
  /**
   * With no setting at all: the local default (Azurite on its default ports), or undefined to
   * say the setting is missing. Never applied when any `<NAME>__` key is set.
   */
  whenUnset?: 'local' | 'missing';
}

/**
 * A storage connection from the settings of `name` (AzureWebJobsStorage, or a binding's
 * `connection`): its connection string when set (also `AzureWebJobs<name>`, as the host looks
 * it up), else its identity keys; undefined only when nothing is set and whenUnset is 'missing'.
 */
export function storageConnectionFromSettings(
  name: string,
  env: Env,
  opts: StorageResolveOptions = {},
): Resolved<StorageConnection | undefined> {
  const services = opts.services ?? ALL_SERVICES;
  const direct = value(env, name) ?? (name.startsWith('AzureWebJobs') ? undefined : value(env, `AzureWebJobs${name}`));
  if (direct !== undefined) {
    const ref = unresolvedReference(name, direct);
    return ref ? fail([ref]) : storageConnectionString(name, direct);
  }
  const account = sub(env, name, 'accountName');
  const explicit: StorageEndpoints = {};
  const problems: ErrorDetail[] = [];
  for (const s of SERVICES) {
    const v = sub(env, name, `${s}ServiceUri`) ?? (s === 'blob' ? sub(env, name, 'serviceUri') : undefined);
    if (v === undefined) continue;
    const u = httpsUrl(`${name}__${s}ServiceUri`, v);
    if (u.ok) explicit[s] = u.value;
    else problems.push(...u.problems);
  }
  const anyEndpoint = account !== undefined || Object.keys(explicit).length > 0 || problems.length > 0;
  if (!anyEndpoint) {
    const stray = hasAny(env, name, CREDENTIAL_KEYS);
    if (stray)
      return fail([
        {
          where: `${name}__${stray}`,
          problem: `is set but no storage account is named: set ${name}__accountName (or ${name}__blobServiceUri, __queueServiceUri and __tableServiceUri)`,
        },
      ]);
    if (opts.whenUnset === 'missing') return okay(undefined);
    return okay({ kind: 'connectionString', setting: name, connectionString: DEFAULT_LOCAL_STORAGE, local: true });
  }
  if (account !== undefined && !/^[a-z0-9]{3,24}$/.test(account)) {
    problems.push({
      where: `${name}__accountName`,
      problem: `must be a storage account name (3-24 lowercase letters and digits), got "${account}"`,
    });
  }
  const endpoints: StorageEndpoints = {};
  for (const s of SERVICES) {
    const e = explicit[s] ?? (account !== undefined ? `https://${account}.${s}.core.windows.net` : undefined);
    if (e) endpoints[s] = e;
  }
  for (const s of services) {
    if (!endpoints[s] && !problems.some((p) => p.where === `${name}__${s}ServiceUri`)) {
      problems.push({
        where: `${name}__${s}ServiceUri`,
        problem: `is not set: Strata uses ${services.map(title).join(', ')} storage, so set ${name}__accountName or every one of ${services.map((x) => `${name}__${x}ServiceUri`).join(', ')}`,
      });
    }
  }
  const credential = credentialFromSettings(name, env);
  if (!credential.ok) problems.push(...credential.problems);
  if (problems.length || !credential.ok) return fail(problems);
  return okay({ kind: 'identity', setting: name, endpoints, credential: credential.value });
}

const title = (s: StorageService) => s[0]!.toUpperCase() + s.slice(1);

/** What an Event Hubs connection string points at: the emulator (UseDevelopmentEmulator=true) or Azure. */
export function isEventHubsEmulator(s: string): boolean {
  return /(^|;)\s*UseDevelopmentEmulator\s*=\s*true\s*(;|$)/i.test(s);
}

/**
 * An Event Hubs connection from the settings of `name` (EVENTHUB_CONNECTION, or a trigger's
 * `connection`): its connection string when set, else `__fullyQualifiedNamespace` with a
 * credential; undefined when neither is set (no Event Hubs: the local bus).
 */
export function eventHubConnectionFromSettings(name: string, env: Env): Resolved<EventHubConnection | undefined> {
  const direct = value(env, name);
  if (direct !== undefined) {
    const ref = unresolvedReference(name, direct);
    if (ref) return fail([ref]);
    if (!/Endpoint=sb:\/\//i.test(direct))
      return fail([
        {
          where: name,
          problem: `must be an Event Hubs connection string (Endpoint=sb://...), or unset with ${name}__fullyQualifiedNamespace for the managed identity`,
        },
      ]);
    const emulator = isEventHubsEmulator(direct);
    const parts = connectionStringParts(direct);
    if (
      !emulator &&
      !(parts.get('sharedaccesskeyname') && parts.get('sharedaccesskey')) &&
      !parts.get('sharedaccesssignature')
    ) {
      return fail([
        {
          where: name,
          problem: `names namespace ${parts.get('endpoint')} without a credential (no SharedAccessKeyName/SharedAccessKey or SharedAccessSignature): add one, or remove ${name} and set ${name}__fullyQualifiedNamespace to use the managed identity`,
        },
      ]);
    }
    return okay({ kind: 'connectionString', setting: name, connectionString: direct, emulator });
  }
  const ns = sub(env, name, 'fullyQualifiedNamespace');
  if (ns === undefined) {
    const stray = hasAny(env, name, CREDENTIAL_KEYS);
    if (stray)
      return fail([
        {
          where: `${name}__${stray}`,
          problem: `is set but no namespace is named: set ${name}__fullyQualifiedNamespace (<namespace>.servicebus.windows.net)`,
        },
      ]);
    return okay(undefined);
  }
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9](:\d+)?$/i.test(ns)) {
    return fail([
      {
        where: `${name}__fullyQualifiedNamespace`,
        problem: `must be a host name like <namespace>.servicebus.windows.net (no scheme, no path), got "${ns}"`,
      },
    ]);
  }
  const credential = credentialFromSettings(name, env);
  if (!credential.ok) return credential;
  return okay({ kind: 'identity', setting: name, fullyQualifiedNamespace: ns, credential: credential.value });
}

/**
 * The Redis connection from REDIS_URL (`name`) and its credential keys: Entra ID when any
 * credential key is set (rediss:// only, no password in the URL), else the URL as it is;
 * undefined when unset (the embedded online store).
 */
export function redisConnectionFromSettings(name: string, env: Env): Resolved<RedisConnection | undefined> {
  const url = value(env, name);
  const identityKey = hasAny(env, name, CREDENTIAL_KEYS);
  if (url === undefined) {
    return identityKey
      ? fail([
          { where: `${name}__${identityKey}`, problem: `is set but ${name} is not: set ${name}=rediss://<host>:10000` },
        ])
      : okay(undefined);
  }
  const ref = unresolvedReference(name, url);
  if (ref) return fail([ref]);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return fail([{ where: name, problem: `must be a URL like rediss://<host>:10000, got "${url}"` }]);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    return fail([{ where: name, problem: 'must start with redis:// or rediss://' }]);
  if (identityKey) {
    if (u.protocol !== 'rediss:')
      return fail([
        {
          where: name,
          problem: `must be rediss:// with ${name}__${identityKey}: Microsoft Entra ID tokens are only accepted over TLS`,
        },
      ]);
    if (u.password)
      return fail([
        {
          where: name,
          problem: `carries a password and ${name}__${identityKey} asks for Microsoft Entra ID: use one of them`,
        },
      ]);
    const credential = credentialFromSettings(name, env);
    if (!credential.ok) return credential;
    return okay({ kind: 'identity', url, credential: credential.value });
  }
  if (AZURE_REDIS_HOST.test(u.hostname) && !u.password) {
    return fail([
      {
        where: name,
        problem: `names Azure Redis ${u.hostname} without a credential: set ${name}__credential=managedidentity (and ${name}__clientId) for Microsoft Entra ID, or an access key as the URL's password (from Key Vault)`,
      },
    ]);
  }
  return okay({ kind: 'url', url });
}

/**
 * The credential Application Insights telemetry is sent with, from
 * APPLICATIONINSIGHTS_AUTHENTICATION_STRING (`Authorization=AAD`, with `ClientId=<id>` for a
 * user-assigned identity): the platform's own shape for it; undefined when unset (key-less
 * ingestion with the connection string alone, which a resource with local auth off refuses).
 */
export function appInsightsCredentialFromSettings(name: string, env: Env): Resolved<CredentialSpec | undefined> {
  const v = value(env, name);
  if (v === undefined) return okay(undefined);
  const parts = connectionStringParts(v);
  if (
    parts.get('authorization')?.toLowerCase() !== 'aad' ||
    [...parts.keys()].some((k) => k !== 'authorization' && k !== 'clientid')
  ) {
    return fail([
      {
        where: name,
        problem: `must be "Authorization=AAD" (the system-assigned identity) or "ClientId=<client id>;Authorization=AAD", got "${v}"`,
      },
    ]);
  }
  const clientId = parts.get('clientid');
  return okay({ kind: 'managedIdentity', ...(clientId ? { clientId } : {}) });
}

/** Whether the app runs on Azure (App Service / Functions set WEBSITE_INSTANCE_ID on every instance). */
export function runsOnAzure(env: Env): boolean {
  return value(env, 'WEBSITE_INSTANCE_ID') !== undefined;
}

/** A short, secret-free description for logs and banners ("identity: https://acct.blob..."). */
export function describeStorage(c: StorageConnection): string {
  if (c.kind === 'identity')
    return `${c.setting} via ${describeCredential(c.credential)} (${Object.values(c.endpoints).join(', ')})`;
  const parts = connectionStringParts(c.connectionString);
  return `${c.setting} ${c.local ? 'local ' : ''}connection string (${parts.get('blobendpoint') ?? parts.get('accountname') ?? 'storage'})`;
}

export function describeCredential(c: CredentialSpec): string {
  switch (c.kind) {
    case 'managedIdentity':
      return c.clientId
        ? `managed identity ${c.clientId}`
        : c.resourceId
          ? `managed identity ${c.resourceId}`
          : 'system-assigned managed identity';
    case 'clientSecret':
      return `service principal ${c.clientId} (tenant ${c.tenantId})`;
    default:
      return 'DefaultAzureCredential';
  }
}

/** One stable key per connection (clients hold sockets: one set per key per process). */
export function storageKey(c: StorageConnection | string): string {
  if (typeof c === 'string') return `cs:${c}`;
  if (c.kind === 'connectionString') return `cs:${c.connectionString}`;
  return `id:${JSON.stringify([c.endpoints.blob, c.endpoints.queue, c.endpoints.table, credentialKey(c.credential)])}`;
}

export function credentialKey(c: CredentialSpec): string {
  return JSON.stringify(c);
}
