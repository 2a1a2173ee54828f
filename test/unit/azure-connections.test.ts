/**
 * How settings become connections (shared/azure/connections.ts, read by shared/config): every
 * shape the Functions host accepts, each refusal with the setting it names, and the rule that
 * only settings that say local ever mean Azurite. Pure: no clients are built.
 */
import { describe, expect, it } from 'vitest';
import {
  appInsightsCredentialFromSettings,
  DEFAULT_LOCAL_STORAGE,
  eventHubConnectionFromSettings,
  redisConnectionFromSettings,
  storageConnectionFromSettings,
  storageKey,
  type Resolved,
} from '../../shared/azure/connections';
import { loadConfig } from '../../shared/config';
import { refreshDelay } from '../../shared/features/online/redis';
import { objectIdOf } from '../../shared/azure/client-factory';

const CLIENT_ID = '5f1c0b1e-0000-4000-8000-00000000c11e';
const KEYED = 'DefaultEndpointsProtocol=https;AccountName=prodacct;AccountKey=a2V5;EndpointSuffix=core.windows.net';

const value = <T>(r: Resolved<T>): T => {
  if (!r.ok) throw new Error(`expected a value, got ${JSON.stringify(r.problems)}`);
  return r.value;
};
const problems = (r: Resolved<unknown>): string[] => (r.ok ? [] : r.problems.map((p) => `${p.where}: ${p.problem}`));
const storage = (env: Record<string, string>, opts?: Parameters<typeof storageConnectionFromSettings>[2]) =>
  storageConnectionFromSettings('AzureWebJobsStorage', env, opts);

describe('storage connections', () => {
  it('__accountName with the managed identity: the account endpoints and the user-assigned client id (the shape infra/ sets)', () => {
    expect(
      value(
        storage({
          AzureWebJobsStorage__accountName: 'prodacct',
          AzureWebJobsStorage__credential: 'managedidentity',
          AzureWebJobsStorage__clientId: CLIENT_ID,
        }),
      ),
    ).toEqual({
      kind: 'identity',
      setting: 'AzureWebJobsStorage',
      endpoints: {
        blob: 'https://prodacct.blob.core.windows.net',
        queue: 'https://prodacct.queue.core.windows.net',
        table: 'https://prodacct.table.core.windows.net',
      },
      credential: { kind: 'managedIdentity', clientId: CLIENT_ID },
    });
  });

  it('explicit service URIs win over the account name, one by one; a trailing slash goes', () => {
    const c = value(
      storage({
        AzureWebJobsStorage__accountName: 'prodacct',
        AzureWebJobsStorage__blobServiceUri: 'https://127.0.0.1:10500/devstoreaccount1/',
        AzureWebJobsStorage__credential: 'ManagedIdentity',
      }),
    );
    expect(c).toMatchObject({
      kind: 'identity',
      endpoints: { blob: 'https://127.0.0.1:10500/devstoreaccount1', queue: 'https://prodacct.queue.core.windows.net' },
      credential: { kind: 'managedIdentity' },
    });
  });

  it('service URIs alone need all three services the app uses; a binding asks only for its own', () => {
    const blobOnly = { AzureWebJobsStorage__blobServiceUri: 'https://acct.blob.core.windows.net' };
    expect(problems(storage(blobOnly))).toEqual([
      'AzureWebJobsStorage__queueServiceUri: is not set: Strata uses Blob, Queue, Table storage, so set AzureWebJobsStorage__accountName or every one of AzureWebJobsStorage__blobServiceUri, AzureWebJobsStorage__queueServiceUri, AzureWebJobsStorage__tableServiceUri',
      'AzureWebJobsStorage__tableServiceUri: is not set: Strata uses Blob, Queue, Table storage, so set AzureWebJobsStorage__accountName or every one of AzureWebJobsStorage__blobServiceUri, AzureWebJobsStorage__queueServiceUri, AzureWebJobsStorage__tableServiceUri',
    ]);
    expect(value(storage(blobOnly, { services: ['blob'] }))).toMatchObject({
      endpoints: { blob: 'https://acct.blob.core.windows.net' },
      credential: { kind: 'default' },
    });
  });

  it('no __credential: DefaultAzureCredential, with __clientId as its managed identity and __tenantId', () => {
    expect(value(storage({ AzureWebJobsStorage__accountName: 'devacct' }))).toMatchObject({
      credential: { kind: 'default' },
    });
    expect(
      value(
        storage({
          AzureWebJobsStorage__accountName: 'devacct',
          AzureWebJobsStorage__clientId: CLIENT_ID,
          AzureWebJobsStorage__tenantId: 't1',
        }),
      ),
    ).toMatchObject({
      credential: { kind: 'default', managedIdentityClientId: CLIENT_ID, tenantId: 't1' },
    });
  });

  it('a service principal needs its tenant, client id and secret', () => {
    expect(
      value(
        storage({
          AzureWebJobsStorage__accountName: 'devacct',
          AzureWebJobsStorage__tenantId: 't1',
          AzureWebJobsStorage__clientId: 'app',
          AzureWebJobsStorage__clientSecret: 's3cret',
        }),
      ),
    ).toMatchObject({
      credential: { kind: 'clientSecret', tenantId: 't1', clientId: 'app', clientSecret: 's3cret' },
    });
    expect(
      problems(storage({ AzureWebJobsStorage__accountName: 'devacct', AzureWebJobsStorage__clientSecret: 's3cret' })),
    ).toEqual([
      'AzureWebJobsStorage__tenantId: is not set: a service principal needs AzureWebJobsStorage__tenantId, __clientId and __clientSecret',
      'AzureWebJobsStorage__clientId: is not set: a service principal needs AzureWebJobsStorage__tenantId, __clientId and __clientSecret',
    ]);
  });

  it('the system-assigned identity, or one named by resource id; never both a client id and a resource id', () => {
    expect(
      value(storage({ AzureWebJobsStorage__accountName: 'a01', AzureWebJobsStorage__credential: 'managedidentity' })),
    ).toMatchObject({ credential: { kind: 'managedIdentity' } });
    expect(
      value(
        storage({
          AzureWebJobsStorage__accountName: 'a01',
          AzureWebJobsStorage__credential: 'managedidentity',
          AzureWebJobsStorage__managedIdentityResourceId: '/subscriptions/s/rg/id',
        }),
      ),
    ).toMatchObject({
      credential: { kind: 'managedIdentity', resourceId: '/subscriptions/s/rg/id' },
    });
    expect(
      problems(
        storage({
          AzureWebJobsStorage__accountName: 'a01',
          AzureWebJobsStorage__credential: 'managedidentity',
          AzureWebJobsStorage__clientId: CLIENT_ID,
          AzureWebJobsStorage__managedIdentityResourceId: '/x',
        }),
      ),
    ).toEqual([
      'AzureWebJobsStorage__clientId: and AzureWebJobsStorage__managedIdentityResourceId both name a managed identity: set one',
    ]);
  });

  it('refuses an unknown credential, a bad account name and a plain-http endpoint, all at once', () => {
    expect(
      problems(storage({ AzureWebJobsStorage__accountName: 'Prod_Acct', AzureWebJobsStorage__credential: 'password' })),
    ).toEqual([
      'AzureWebJobsStorage__accountName: must be a storage account name (3-24 lowercase letters and digits), got "Prod_Acct"',
      'AzureWebJobsStorage__credential: must be "managedidentity" (or unset for DefaultAzureCredential), got "password"',
    ]);
    expect(
      problems(
        storage({
          AzureWebJobsStorage__accountName: 'acct',
          AzureWebJobsStorage__blobServiceUri: 'http://127.0.0.1:10000/devstoreaccount1',
        }),
      ),
    ).toEqual([
      'AzureWebJobsStorage__blobServiceUri: must be an https:// URL (tokens are never sent over plain HTTP), got "http://127.0.0.1:10000/devstoreaccount1"',
    ]);
  });

  it('a credential without an account is refused, not read as "nothing set"', () => {
    expect(
      problems(
        storage({ AzureWebJobsStorage__credential: 'managedidentity', AzureWebJobsStorage__clientId: CLIENT_ID }),
      ),
    ).toEqual([
      'AzureWebJobsStorage__credential: is set but no storage account is named: set AzureWebJobsStorage__accountName (or AzureWebJobsStorage__blobServiceUri, __queueServiceUri and __tableServiceUri)',
    ]);
  });

  it('a connection string wins over identity keys, as in the Functions host', () => {
    expect(value(storage({ AzureWebJobsStorage: KEYED, AzureWebJobsStorage__accountName: 'other' }))).toEqual({
      kind: 'connectionString',
      setting: 'AzureWebJobsStorage',
      connectionString: KEYED,
      local: false,
    });
  });

  it('a connection string naming a cloud account without a key or SAS is refused', () => {
    expect(
      problems(
        storage({
          AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=prodacct;EndpointSuffix=core.windows.net',
        }),
      ),
    ).toEqual([
      'AzureWebJobsStorage: names storage prodacct without a credential (no AccountKey or SharedAccessSignature): add one, or remove AzureWebJobsStorage and set AzureWebJobsStorage__accountName to use the managed identity',
    ]);
    expect(
      value(
        storage({
          AzureWebJobsStorage:
            'BlobEndpoint=https://prodacct.blob.core.windows.net;SharedAccessSignature=sv=2024&sig=x',
        }),
      ),
    ).toMatchObject({ kind: 'connectionString', local: false });
  });

  it('an unresolved Key Vault reference says how to fix the grant', () => {
    expect(problems(storage({ AzureWebJobsStorage: '@Microsoft.KeyVault(VaultName=v;SecretName=s)' }))[0]).toMatch(
      /^AzureWebJobsStorage: is an unresolved Key Vault reference .*Key Vault Secrets User/,
    );
  });

  it('Azurite only when the settings say local: the shorthand, loopback endpoints, the emulator account, or nothing at all', () => {
    expect(value(storage({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }))).toMatchObject({
      kind: 'connectionString',
      local: true,
      connectionString: DEFAULT_LOCAL_STORAGE,
    });
    const loopback =
      'DefaultEndpointsProtocol=http;AccountName=testaccount0;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:5000/testaccount0;QueueEndpoint=http://127.0.0.1:5001/testaccount0;TableEndpoint=http://localhost:5002/testaccount0';
    expect(value(storage({ AzureWebJobsStorage: loopback }))).toMatchObject({
      local: true,
      connectionString: loopback,
    });
    expect(value(storage({}))).toMatchObject({
      kind: 'connectionString',
      local: true,
      connectionString: DEFAULT_LOCAL_STORAGE,
    });
    expect(value(storage({}, { whenUnset: 'missing' }))).toBeUndefined();
    expect(value(storage({ AzureWebJobsStorage: KEYED }))).toMatchObject({ local: false });
  });

  it('identity settings never resolve to Azurite (they used to, silently)', () => {
    for (const env of [
      { AzureWebJobsStorage__accountName: 'prodacct' },
      {
        AzureWebJobsStorage__accountName: 'prodacct',
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: CLIENT_ID,
      },
      {
        AzureWebJobsStorage__blobServiceUri: 'https://a.blob.core.windows.net',
        AzureWebJobsStorage__queueServiceUri: 'https://a.queue.core.windows.net',
        AzureWebJobsStorage__tableServiceUri: 'https://a.table.core.windows.net',
      },
    ]) {
      const c = loadConfig(env).storage;
      expect(c.kind).toBe('identity');
      expect(JSON.stringify(c)).not.toMatch(/127\.0\.0\.1|devstoreaccount1/);
    }
  });

  it('two connections share clients only when they are the same storage and identity', () => {
    const a = value(
      storage({
        AzureWebJobsStorage__accountName: 'acct',
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: 'one',
      }),
    )!;
    const b = value(
      storage({
        AzureWebJobsStorage__accountName: 'acct',
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: 'two',
      }),
    )!;
    expect(storageKey(a)).not.toBe(storageKey(b));
    expect(storageKey(a)).toBe(storageKey({ ...a }));
    expect(storageKey(KEYED)).toBe(
      storageKey({ kind: 'connectionString', setting: 'X', connectionString: KEYED, local: false }),
    );
  });
});

describe('Event Hubs connections', () => {
  const eh = (env: Record<string, string>) => eventHubConnectionFromSettings('EVENTHUB_CONNECTION', env);

  it('__fullyQualifiedNamespace with the managed identity (the shape infra/ sets)', () => {
    expect(
      value(
        eh({
          EVENTHUB_CONNECTION__fullyQualifiedNamespace: 'strata-ns.servicebus.windows.net',
          EVENTHUB_CONNECTION__credential: 'managedidentity',
          EVENTHUB_CONNECTION__clientId: CLIENT_ID,
        }),
      ),
    ).toEqual({
      kind: 'identity',
      setting: 'EVENTHUB_CONNECTION',
      fullyQualifiedNamespace: 'strata-ns.servicebus.windows.net',
      credential: { kind: 'managedIdentity', clientId: CLIENT_ID },
    });
  });

  it('a keyed connection string, the emulator string, or nothing (the local bus)', () => {
    const keyed = 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=';
    expect(value(eh({ EVENTHUB_CONNECTION: keyed }))).toEqual({
      kind: 'connectionString',
      setting: 'EVENTHUB_CONNECTION',
      connectionString: keyed,
      emulator: false,
    });
    expect(
      value(
        eh({
          EVENTHUB_CONNECTION:
            'Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;',
        }),
      ),
    ).toMatchObject({ emulator: true });
    expect(value(eh({}))).toBeUndefined();
  });

  it('refuses a namespace string without a key, a URL where a host name belongs, and a credential with no namespace', () => {
    expect(problems(eh({ EVENTHUB_CONNECTION: 'Endpoint=sb://ns.servicebus.windows.net/' }))).toEqual([
      'EVENTHUB_CONNECTION: names namespace sb://ns.servicebus.windows.net/ without a credential (no SharedAccessKeyName/SharedAccessKey or SharedAccessSignature): add one, or remove EVENTHUB_CONNECTION and set EVENTHUB_CONNECTION__fullyQualifiedNamespace to use the managed identity',
    ]);
    expect(problems(eh({ EVENTHUB_CONNECTION__fullyQualifiedNamespace: 'sb://ns.servicebus.windows.net/' }))).toEqual([
      'EVENTHUB_CONNECTION__fullyQualifiedNamespace: must be a host name like <namespace>.servicebus.windows.net (no scheme, no path), got "sb://ns.servicebus.windows.net/"',
    ]);
    expect(problems(eh({ EVENTHUB_CONNECTION__clientId: CLIENT_ID }))).toEqual([
      'EVENTHUB_CONNECTION__clientId: is set but no namespace is named: set EVENTHUB_CONNECTION__fullyQualifiedNamespace (<namespace>.servicebus.windows.net)',
    ]);
    expect(problems(eh({ EVENTHUB_CONNECTION: 'local' }))[0]).toMatch(
      /^EVENTHUB_CONNECTION: must be an Event Hubs connection string \(Endpoint=sb:\/\/\.\.\.\)/,
    );
  });
});

describe('Redis connections', () => {
  const redis = (env: Record<string, string>) => redisConnectionFromSettings('REDIS_URL', env);

  it('Microsoft Entra ID when a credential key is set (the shape infra/ sets for Azure Managed Redis)', () => {
    expect(
      value(
        redis({
          REDIS_URL: 'rediss://strata.westeurope.redis.azure.net:10000',
          REDIS_URL__credential: 'managedidentity',
          REDIS_URL__clientId: CLIENT_ID,
        }),
      ),
    ).toEqual({
      kind: 'identity',
      url: 'rediss://strata.westeurope.redis.azure.net:10000',
      credential: { kind: 'managedIdentity', clientId: CLIENT_ID },
    });
  });

  it('else the URL carries the auth: a key from Key Vault, or none on a local server', () => {
    expect(value(redis({ REDIS_URL: 'rediss://:k3y@strata.westeurope.redis.azure.net:10000' }))).toEqual({
      kind: 'url',
      url: 'rediss://:k3y@strata.westeurope.redis.azure.net:10000',
    });
    expect(value(redis({ REDIS_URL: 'redis://127.0.0.1:6379' }))).toEqual({
      kind: 'url',
      url: 'redis://127.0.0.1:6379',
    });
    expect(value(redis({}))).toBeUndefined();
  });

  it('refuses Azure Redis with no credential, Entra ID over plain TCP or beside a password, and a bad URL', () => {
    expect(problems(redis({ REDIS_URL: 'rediss://strata.westeurope.redis.azure.net:10000' }))).toEqual([
      "REDIS_URL: names Azure Redis strata.westeurope.redis.azure.net without a credential: set REDIS_URL__credential=managedidentity (and REDIS_URL__clientId) for Microsoft Entra ID, or an access key as the URL's password (from Key Vault)",
    ]);
    expect(
      problems(redis({ REDIS_URL: 'redis://cache.internal:6379', REDIS_URL__credential: 'managedidentity' })),
    ).toEqual([
      'REDIS_URL: must be rediss:// with REDIS_URL__credential: Microsoft Entra ID tokens are only accepted over TLS',
    ]);
    expect(problems(redis({ REDIS_URL: 'rediss://:k@cache:10000', REDIS_URL__clientId: CLIENT_ID }))).toEqual([
      'REDIS_URL: carries a password and REDIS_URL__clientId asks for Microsoft Entra ID: use one of them',
    ]);
    expect(problems(redis({ REDIS_URL: 'localhost:6379' }))).toEqual([
      'REDIS_URL: must start with redis:// or rediss://',
    ]);
    expect(problems(redis({ REDIS_URL__credential: 'managedidentity' }))).toEqual([
      'REDIS_URL__credential: is set but REDIS_URL is not: set REDIS_URL=rediss://<host>:10000',
    ]);
  });

  it('a token is refreshed at 3/4 of its life, at least a minute before it ends, never sooner than a second', () => {
    const now = 1_000_000;
    expect(refreshDelay(now + 3_600_000, now)).toBe(2_700_000); // 1 h token: after 45 min
    expect(refreshDelay(now + 200_000, now)).toBe(140_000); // 200 s left: a minute before the end wins over 150 s
    expect(refreshDelay(now + 30_000, now)).toBe(1_000);
  });

  it("the Redis user name is the token's object id", () => {
    const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
    expect(objectIdOf(jwt({ oid: 'a7c1-oid', aud: 'https://redis.azure.com' }))).toBe('a7c1-oid');
    expect(() => objectIdOf(jwt({ sub: 'x' }))).toThrow(/no object id \(oid claim\)/);
    expect(() => objectIdOf('not-a-jwt')).toThrow(/no object id/);
  });
});

describe('Application Insights credential', () => {
  const ai = (v?: string) =>
    appInsightsCredentialFromSettings(
      'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
      v === undefined ? {} : { APPLICATIONINSIGHTS_AUTHENTICATION_STRING: v },
    );
  it("the platform's shape: a user-assigned identity by client id, the system-assigned one, or none", () => {
    expect(value(ai(`ClientId=${CLIENT_ID};Authorization=AAD`))).toEqual({
      kind: 'managedIdentity',
      clientId: CLIENT_ID,
    });
    expect(value(ai('Authorization=AAD'))).toEqual({ kind: 'managedIdentity' });
    expect(value(ai())).toBeUndefined();
  });
  it('refuses anything else, naming the two accepted forms', () => {
    expect(problems(ai('ClientId=x'))).toEqual([
      'APPLICATIONINSIGHTS_AUTHENTICATION_STRING: must be "Authorization=AAD" (the system-assigned identity) or "ClientId=<client id>;Authorization=AAD", got "ClientId=x"',
    ]);
    expect(problems(ai('Authorization=AAD;Secret=s'))).toHaveLength(1);
  });
});

describe('config', () => {
  it('on Azure, no storage setting at all refuses the start (never a local emulator there)', () => {
    expect(() => loadConfig({ WEBSITE_INSTANCE_ID: 'abc123' })).toThrow(
      /AzureWebJobsStorage: is not set, and the app runs on Azure: set AzureWebJobsStorage__accountName/,
    );
    expect(
      loadConfig({
        WEBSITE_INSTANCE_ID: 'abc123',
        AzureWebJobsStorage__accountName: 'prodacct',
        AzureWebJobsStorage__credential: 'managedidentity',
      }).storage.kind,
    ).toBe('identity');
  });

  it('names every bad connection setting at once, beside the other bad settings', () => {
    expect(() =>
      loadConfig({
        STRATA_PORT: 'abc',
        AzureWebJobsStorage__accountName: 'prodacct',
        AzureWebJobsStorage__credential: 'msi',
        EVENTHUB_CONNECTION: 'Endpoint=sb://ns.servicebus.windows.net/',
        REDIS_URL: 'rediss://x.redis.azure.net:10000',
      }),
    ).toThrow(
      /STRATA_PORT: must be a number[\s\S]*AzureWebJobsStorage__credential: must be "managedidentity"[\s\S]*REDIS_URL: names Azure Redis[\s\S]*EVENTHUB_CONNECTION: names namespace/,
    );
  });

  it('reads the settings infra/ deploys into identity connections for all three services', () => {
    const c = loadConfig({
      WEBSITE_INSTANCE_ID: 'i1',
      AZURE_CLIENT_ID: CLIENT_ID,
      AzureWebJobsStorage__accountName: 'prodacct',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: CLIENT_ID,
      EVENTHUB_CONNECTION__fullyQualifiedNamespace: 'ns.servicebus.windows.net',
      EVENTHUB_CONNECTION__credential: 'managedidentity',
      EVENTHUB_CONNECTION__clientId: CLIENT_ID,
      REDIS_URL: 'rediss://r.westeurope.redis.azure.net:10000',
      REDIS_URL__credential: 'managedidentity',
      REDIS_URL__clientId: CLIENT_ID,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${CLIENT_ID};Authorization=AAD`,
    });
    expect([c.storage.kind, c.eventHub?.kind, c.redis?.kind, c.appInsightsCredential?.kind]).toEqual([
      'identity',
      'identity',
      'identity',
      'managedIdentity',
    ]);
    expect(c.redisUrl).toBe('rediss://r.westeurope.redis.azure.net:10000');
  });
});
