/**
 * The one place that turns a resolved connection (connections.ts) into Azure SDK clients:
 * Blob, Queue and Table service clients, Event Hubs producers and consumers, and the token
 * credential behind identity-based ones. A connection string builds clients from the string, an
 * identity from its endpoints plus a TokenCredential:
 *
 *   managedIdentity  ManagedIdentityCredential (the user-assigned identity's client id, or the
 *                    system-assigned one); on Azure Functions it asks the platform's identity
 *                    endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER), elsewhere IMDS
 *   clientSecret     ClientSecretCredential (a service principal; AZURE_AUTHORITY_HOST picks the cloud)
 *   default          DefaultAzureCredential (environment, workload identity, managed identity,
 *                    then the developer's Azure CLI / azd / PowerShell sign-in)
 *
 * One credential per identity per process, so its token cache is shared by every client that
 * uses it. Retry options are the caller's (the Storage class keeps its outage bounds).
 */
import {
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import { BlobServiceClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { QueueServiceClient, type StoragePipelineOptions as QueuePipelineOptions } from '@azure/storage-queue';
import { TableClient, TableServiceClient, type TableServiceClientOptions } from '@azure/data-tables';
import {
  EventHubBufferedProducerClient,
  EventHubConsumerClient,
  EventHubProducerClient,
  type CheckpointStore,
  type EventHubBufferedProducerClientOptions,
  type EventHubConsumerClientOptions,
} from '@azure/event-hubs';
import { ConfigError } from '../errors';
import {
  credentialKey,
  type CredentialSpec,
  type EventHubConnection,
  type StorageConnection,
  type StorageService,
} from './connections';

const credentials = new Map<string, TokenCredential>();

/** The TokenCredential a spec describes (one per identity per process). */
export function tokenCredential(spec: CredentialSpec): TokenCredential {
  const key = credentialKey(spec);
  let c = credentials.get(key);
  if (!c) credentials.set(key, (c = newCredential(spec)));
  return c;
}

function newCredential(spec: CredentialSpec): TokenCredential {
  switch (spec.kind) {
    case 'managedIdentity':
      if (spec.clientId) return new ManagedIdentityCredential({ clientId: spec.clientId });
      if (spec.resourceId) return new ManagedIdentityCredential({ resourceId: spec.resourceId });
      return new ManagedIdentityCredential();
    case 'clientSecret':
      return new ClientSecretCredential(spec.tenantId, spec.clientId, spec.clientSecret);
    default:
      return new DefaultAzureCredential({
        ...(spec.managedIdentityClientId ? { managedIdentityClientId: spec.managedIdentityClientId } : {}),
        ...(spec.tenantId ? { tenantId: spec.tenantId } : {}),
      });
  }
}

function endpoint(c: Extract<StorageConnection, { kind: 'identity' }>, service: StorageService): string {
  const url = c.endpoints[service];
  if (!url)
    throw new ConfigError([
      {
        where: `${c.setting}__${service}ServiceUri`,
        problem: `is not set, and this connection is used for ${service} storage: set ${c.setting}__accountName or ${c.setting}__${service}ServiceUri`,
      },
    ]);
  return url;
}

export function blobServiceClient(c: StorageConnection, options: StoragePipelineOptions = {}): BlobServiceClient {
  return c.kind === 'connectionString'
    ? BlobServiceClient.fromConnectionString(c.connectionString, options)
    : new BlobServiceClient(endpoint(c, 'blob'), tokenCredential(c.credential), options);
}

export function queueServiceClient(c: StorageConnection, options: QueuePipelineOptions = {}): QueueServiceClient {
  return c.kind === 'connectionString'
    ? QueueServiceClient.fromConnectionString(c.connectionString, options)
    : new QueueServiceClient(endpoint(c, 'queue'), tokenCredential(c.credential), options);
}

/** Table clients allow plain HTTP for Azurite's connection strings; an identity is https only (connections.ts). */
export function tableServiceClient(c: StorageConnection, options: TableServiceClientOptions = {}): TableServiceClient {
  return c.kind === 'connectionString'
    ? TableServiceClient.fromConnectionString(c.connectionString, { allowInsecureConnection: true, ...options })
    : new TableServiceClient(endpoint(c, 'table'), tokenCredential(c.credential), options);
}

export function tableClient(c: StorageConnection, table: string, options: TableServiceClientOptions = {}): TableClient {
  return c.kind === 'connectionString'
    ? TableClient.fromConnectionString(c.connectionString, table, { allowInsecureConnection: true, ...options })
    : new TableClient(endpoint(c, 'table'), table, tokenCredential(c.credential), options);
}

export function eventHubProducer(c: EventHubConnection, hub: string): EventHubProducerClient {
  return c.kind === 'connectionString'
    ? new EventHubProducerClient(c.connectionString, hub)
    : new EventHubProducerClient(c.fullyQualifiedNamespace, hub, tokenCredential(c.credential));
}

export function eventHubBufferedProducer(
  c: EventHubConnection,
  hub: string,
  options: EventHubBufferedProducerClientOptions,
): EventHubBufferedProducerClient {
  return c.kind === 'connectionString'
    ? new EventHubBufferedProducerClient(c.connectionString, hub, options)
    : new EventHubBufferedProducerClient(c.fullyQualifiedNamespace, hub, tokenCredential(c.credential), options);
}

export function eventHubConsumer(
  c: EventHubConnection,
  consumerGroup: string,
  hub: string,
  store: CheckpointStore,
  options: EventHubConsumerClientOptions = {},
): EventHubConsumerClient {
  return c.kind === 'connectionString'
    ? new EventHubConsumerClient(consumerGroup, c.connectionString, hub, store, options)
    : new EventHubConsumerClient(
        consumerGroup,
        c.fullyQualifiedNamespace,
        hub,
        tokenCredential(c.credential),
        store,
        options,
      );
}

/** The Microsoft Entra scope of Azure Managed Redis (and Azure Cache for Redis). */
export const REDIS_SCOPE = 'https://redis.azure.com/.default';

export interface RedisCredentials {
  /** The principal's object id (the token's `oid`): Redis's user name for Entra ID. */
  username: string;
  /** The access token, sent as the AUTH password. */
  password: string;
  /** When the token expires (ms since the epoch): re-AUTH before then. */
  expiresAt: number;
}

/**
 * A source of Redis credentials for an identity: each call gets a token for the Redis scope
 * (the credential caches and renews it) and names its principal by the token's object id.
 */
export function redisCredentialSource(spec: CredentialSpec): () => Promise<RedisCredentials> {
  const credential = tokenCredential(spec);
  return async () => {
    const t = await credential.getToken(REDIS_SCOPE);
    if (!t) throw new Error(`no Microsoft Entra token for ${REDIS_SCOPE}`);
    return { username: objectIdOf(t.token), password: t.token, expiresAt: t.expiresOnTimestamp };
  };
}

/** The `oid` claim of a JWT (no signature check: the token is ours, fresh from the issuer). */
export function objectIdOf(jwt: string): string {
  const payload = jwt.split('.')[1];
  let claims: { oid?: unknown } = {};
  try {
    claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as { oid?: unknown };
  } catch {
    // not a JWT: said below
  }
  if (typeof claims.oid !== 'string' || !claims.oid)
    throw new Error(
      'the Microsoft Entra token for Redis carries no object id (oid claim): Redis needs it as the user name',
    );
  return claims.oid;
}
