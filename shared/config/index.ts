/**
 * Every setting Strata reads, in one place. The names are the Function App settings
 * (infra/ and local.settings.example.json list the same names). Defaults make
 * `npm start` work with nothing configured.
 */
import { z } from 'zod';
import { ConfigError, detailsFromZod } from '../errors';
import { parseDuration } from '../features/duration';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(host: string, ports: { blob: number; queue: number; table: number }): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${AZURITE_ACCOUNT}`,
    `AccountKey=${AZURITE_KEY}`,
    `BlobEndpoint=http://${host}:${ports.blob}/${AZURITE_ACCOUNT}`,
    `QueueEndpoint=http://${host}:${ports.queue}/${AZURITE_ACCOUNT}`,
    `TableEndpoint=http://${host}:${ports.table}/${AZURITE_ACCOUNT}`,
  ].join(';');
}

const DEFAULT_STORAGE = azuriteConnectionString('127.0.0.1', { blob: 10000, queue: 10001, table: 10002 });

const int = (min: number) =>
  z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`);

const nonEmpty = z.string().trim().min(1, 'must not be empty');

/** A duration setting ("1h", "90s", "1h30m" or milliseconds) as milliseconds. */
const duration = (fallback: string) =>
  nonEmpty.default(fallback).transform((s, ctx) => {
    try {
      return parseDuration(/^\d+$/.test(s) ? Number(s) : s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

const schema = z.object({
  AzureWebJobsStorage: nonEmpty
    .default(DEFAULT_STORAGE)
    .transform((s) => (s === 'UseDevelopmentStorage=true' ? DEFAULT_STORAGE : s))
    .refine((s) => /BlobEndpoint=|AccountName=/i.test(s), 'must be a storage connection string (AccountName=...;AccountKey=... or endpoints)'),
  REDIS_URL: z
    .string()
    .trim()
    .optional()
    .transform((s) => (s ? s : undefined))
    .refine((s) => s === undefined || /^rediss?:\/\//.test(s), 'must start with redis:// or rediss://'),
  EVENTHUB_CONNECTION: z.string().trim().optional().transform((s) => (s ? s : undefined))
    .refine((s) => s === undefined || /Endpoint=sb:\/\//i.test(s), 'must be an Event Hubs connection string (Endpoint=sb://...)'),
  EVENTHUB_CONSUMER_GROUP: nonEmpty.default('$Default'),
  STRATA_PORT: int(1).max(65535, 'must be at most 65535').default(7071),
  STRATA_DATA_DIR: nonEmpty.default('.strata'),
  STRATA_FUNCTION_KEY: nonEmpty.default('strata-local-function-key'),
  STRATA_ADMIN_KEY: nonEmpty.default('strata-local-admin-key'),
  STRATA_DURABLETASK_EXTENSION_KEY: nonEmpty.default('strata-local-durabletask-key'),
  STRATA_UPLOAD_MAX_BYTES: int(1).default(256 * 1024 * 1024),
  STRATA_PREDICTIONS_HUB: nonEmpty.default('predictions'),
  STRATA_SESSION_GRACE_MS: int(0).default(30_000),
  STRATA_MAX_FUTURE_SKEW: duration('1h'),
  STRATA_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error'], { message: 'must be one of debug, info, warn, error' }).default('info'),
  APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().trim().optional().transform((s) => (s ? s : undefined))
    .refine((s) => s === undefined || /(^|;)\s*(InstrumentationKey|IngestionEndpoint)=/i.test(s), 'must be an Application Insights connection string (InstrumentationKey=...;IngestionEndpoint=...)'),
});

export type StrataConfig = Readonly<{
  storageConnection: string;
  redisUrl: string | undefined;
  eventHubConnection: string | undefined;
  eventHubConsumerGroup: string;
  port: number;
  dataDir: string;
  functionKey: string;
  adminKey: string;
  /** Local host: the durabletask_extension system key (the Durable HTTP API's key). */
  durableTaskKey: string;
  uploadMaxBytes: number;
  predictionsHub: string;
  sessionGraceMs: number;
  /** Records whose event time is more than this ahead of their arrival are dead-lettered. */
  maxFutureSkewMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Set: the app exports its metrics to Application Insights (shared/telemetry). */
  appInsightsConnectionString: string | undefined;
}>;

/** The setting names the code reads, for docs and local.settings.example.json checks. */
export const SETTING_NAMES = Object.keys(schema.shape);

/**
 * Settings only the local host reads: on Azure the Functions host owns the port and the keys
 * (function and admin keys live in the host's key store), so infra/ never sets these; a key
 * there would be a secret in plain app settings.
 */
export const LOCAL_ONLY_SETTINGS: readonly string[] = Object.freeze(['STRATA_PORT', 'STRATA_FUNCTION_KEY', 'STRATA_ADMIN_KEY', 'STRATA_DURABLETASK_EXTENSION_KEY']);

/** Parse settings from an environment; throws ConfigError naming every bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): StrataConfig {
  const picked: Record<string, string | undefined> = {};
  for (const k of SETTING_NAMES) picked[k] = env[k] === '' ? undefined : env[k];
  const r = schema.safeParse(picked);
  if (!r.success) throw new ConfigError(detailsFromZod(r.error.issues));
  const s = r.data;
  return Object.freeze({
    storageConnection: s.AzureWebJobsStorage,
    redisUrl: s.REDIS_URL,
    eventHubConnection: s.EVENTHUB_CONNECTION,
    eventHubConsumerGroup: s.EVENTHUB_CONSUMER_GROUP,
    port: s.STRATA_PORT,
    dataDir: s.STRATA_DATA_DIR,
    functionKey: s.STRATA_FUNCTION_KEY,
    adminKey: s.STRATA_ADMIN_KEY,
    durableTaskKey: s.STRATA_DURABLETASK_EXTENSION_KEY,
    uploadMaxBytes: s.STRATA_UPLOAD_MAX_BYTES,
    predictionsHub: s.STRATA_PREDICTIONS_HUB,
    sessionGraceMs: s.STRATA_SESSION_GRACE_MS,
    maxFutureSkewMs: s.STRATA_MAX_FUTURE_SKEW,
    logLevel: s.STRATA_LOG_LEVEL,
    appInsightsConnectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
  });
}

/**
 * Set by Strata's local host (only) to its base URL, after it has loaded the app and bound its
 * port: a fact of the runtime, like WEBSITE_HOSTNAME on Azure, not a setting anyone configures
 * (so it is not in SETTING_NAMES, infra/ or local.settings.example.json).
 */
export const LOCAL_HOST_URL_VARIABLE = 'STRATA_LOCAL_HOST_URL';

/**
 * The local host's base URL when the app runs on it, else undefined (Azure, `func start`).
 * Read on each call, not with config(): the host sets it after the app's modules (which read
 * config() at load) are loaded.
 */
export function localHostUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = env[LOCAL_HOST_URL_VARIABLE]?.trim();
  return url ? url : undefined;
}

let cached: StrataConfig | undefined;
/** The process-wide config, read once from process.env. */
export function config(): StrataConfig {
  return (cached ??= loadConfig());
}
/** Forget the cached config (tests and the local host change env before loading the app). */
export function resetConfig(): void {
  cached = undefined;
}
