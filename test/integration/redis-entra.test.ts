/**
 * The online store signs in to Redis with Microsoft Entra ID tokens, as Azure Managed Redis asks:
 * the principal's object id as user name, an access token for https://redis.azure.com as
 * password, a fresh token sent with AUTH on every open connection before the old one expires,
 * and reconnects with the newest token.
 *
 * Real: redis-server with an ACL user per principal (the way Azure Managed Redis maps an Entra
 * principal to a Redis user), the store's ioredis connections, @azure/identity's
 * ManagedIdentityCredential and MSAL's token cache, all built by createOnlineStore from a
 * resolved identity connection. The stub: only the token issuer (test/helpers/token-issuer.ts),
 * which hands each token it issues to the test to register as a valid password, as Azure does
 * for every token of a principal it knows. Plain TCP here: TLS (rediss://, which the config
 * insists on for Entra ID) is not what this test is about.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { startRedis, type RedisHandle } from '../../local/processes/redis';
import { createOnlineStore } from '../../shared/features/online';
import type { OnlineStore } from '../../shared/features/online/types';
import { OBJECT_ID, startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer';
import { BUSY_REDIS, until } from '../helpers/wait';

const CLIENT_ID = '6a0e1d55-0000-4000-8000-00000000ed15';
let redis: RedisHandle;
let admin: Redis;
let issuer: TokenIssuer;
let store: OnlineStore;
const issued: string[] = [];
const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

beforeAll(async () => {
  [redis, issuer] = await Promise.all([startRedis(), startTokenIssuer()]);
  admin = new Redis(redis.url);
  // A token lives 63 s: the store refreshes it after max(1 s, min(3/4 of 63 s, 63 s - 60 s)) = 3 s.
  issuer.lifetimeSeconds = 63;
  issuer.onIssue = async (token) => {
    issued.push(token);
    await admin.call('ACL', 'SETUSER', OBJECT_ID, 'on', `>${token}`, '~*', '&*', '+@all');
  };
  // What Azure Functions sets on an instance with a managed identity (read by the credential on use).
  process.env.IDENTITY_ENDPOINT = issuer.url;
  process.env.IDENTITY_HEADER = issuer.secret;
  store = createOnlineStore({
    redis: { kind: 'identity', url: redis.url, credential: { kind: 'managedIdentity', clientId: CLIENT_ID } },
    redisReadTimeoutMs: BUSY_REDIS.readTimeoutMs,
    redisWriteTimeoutMs: BUSY_REDIS.writeTimeoutMs,
    redisConnectTimeoutMs: BUSY_REDIS.connectTimeoutMs,
  });
});

afterAll(async () => {
  await store?.close();
  admin?.disconnect();
  await Promise.all([redis?.stop(), issuer?.close()]);
  for (const [k, v] of [
    ['IDENTITY_ENDPOINT', saved.endpoint],
    ['IDENTITY_HEADER', saved.header],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** AUTH as the principal with this password on a fresh connection: the server's answer. */
async function signIn(password: string): Promise<string> {
  const c = new Redis(redis.url);
  try {
    return await c.auth(OBJECT_ID, password);
  } catch (e) {
    return (e as Error).message;
  } finally {
    c.disconnect();
  }
}
const authCalls = async () => Number(/cmdstat_auth:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
const row = (entityId: string, eventTs: number, values: Record<string, number>) => ({
  entityId,
  eventTs,
  createdTs: eventTs,
  values,
});

describe('Redis with Microsoft Entra ID', () => {
  it('signs in as the object id with a token for the Redis scope, from the configured managed identity', async () => {
    expect(await store.write('clicks', [row('u1', 1000, { n: 3 })])).toEqual({ applied: 1, skipped: 0 });
    expect((await store.read([{ view: 'clicks', entityId: 'u1' }]))[0]).toMatchObject({
      eventTs: 1000,
      values: { n: 3 },
    });
    expect(issuer.requests[0]).toEqual({
      resource: 'https://redis.azure.com',
      clientId: CLIENT_ID,
      apiVersion: '2019-08-01',
      authorized: true,
    });
    const clients = String(await admin.call('CLIENT', 'LIST'));
    expect(clients.split('\n').filter((l) => l.includes(`user=${OBJECT_ID}`)).length).toBe(2); // reads and writes
  });

  it('a wrong password is refused by this server (the sign-in is not a formality)', async () => {
    expect(await signIn('not-a-token')).toMatch(/^WRONGPASS/);
    expect(await signIn(issued[issued.length - 1]!)).toBe('OK');
  });

  it('re-authenticates open connections with a fresh token before expiry, and reconnects with the newest one', async () => {
    const before = await authCalls();
    const first = issued[0]!;
    // Two refreshes: each gets a new token and AUTHs both connections.
    await until('two token refreshes with AUTH on both connections', async () =>
      issued.length >= 3 && (await authCalls()) >= before + 4 ? true : undefined,
    );
    // Every token but the newest is revoked (one issued meanwhile stays valid: refreshes go on);
    // the connections are cut; the store's next commands reconnect.
    const revoked = [...new Set(issued.slice(0, -1))].filter((t) => t !== issued[issued.length - 1]);
    await admin.call('ACL', 'SETUSER', OBJECT_ID, ...revoked.map((t) => `<${t}`));
    await admin.call('CLIENT', 'KILL', 'USER', OBJECT_ID);
    await until('the store reads again after its connections were cut', async () => {
      try {
        return (await store.read([{ view: 'clicks', entityId: 'u1' }]))[0] ?? undefined;
      } catch {
        return undefined;
      }
    });
    expect(await store.write('clicks', [row('u1', 2000, { n: 4 })])).toEqual({ applied: 1, skipped: 0 });
    // And the first token no longer signs anyone in: the store really moved on.
    expect(await signIn(first)).toMatch(/^WRONGPASS/);
  });
});
