/**
 * Every setting Strata reads, in one place. The names are the Function App settings
 * (infra/ and local.settings.example.json list the same names). Defaults make
 * `npm start` work with nothing configured.
 *
 * The three connections (AzureWebJobsStorage, EVENTHUB_CONNECTION, REDIS_URL) are read with
 * their identity-based keys (`<NAME>__accountName`, `__fullyQualifiedNamespace`, `__credential`,
 * `__clientId`, ...) by shared/azure/connections.ts: a connection string or an identity, never
 * Azurite unless the settings say local; a cloud resource without a usable credential refuses
 * the start here, naming the setting. On Azure (WEBSITE_INSTANCE_ID set) no storage setting at
 * all refuses too: the zero-config local default is for a developer's machine only.
 */
import { z } from 'zod';
import { ConfigError, detailsFromZod } from '../errors';
import { parseDuration } from '../features/definitions/duration';
import { isSchedule } from '../schedule/ncrontab';
import { DEFAULT_REFRESH_MS } from '../serving/refresh';
import {
  appInsightsCredentialFromSettings,
  eventHubConnectionFromSettings,
  redisConnectionFromSettings,
  runsOnAzure,
  storageConnectionFromSettings,
  type CredentialSpec,
  type EventHubConnection,
  type RedisConnection,
  type Resolved,
  type StorageConnection,
} from '../azure/connections';

export { AZURITE_ACCOUNT, AZURITE_KEY, azuriteConnectionString } from '../azure/connections';

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
  // Connections: read with their `__` keys by shared/azure/connections.ts (see loadConfig).
  AzureWebJobsStorage: z.string().optional(),
  REDIS_URL: z.string().optional(),
  EVENTHUB_CONNECTION: z.string().optional(),
  EVENTHUB_CONSUMER_GROUP: nonEmpty.default('$Default'),
  STRATA_PORT: int(1).max(65535, 'must be at most 65535').default(7071),
  STRATA_DATA_DIR: nonEmpty.default('.strata'),
  STRATA_FUNCTION_KEY: nonEmpty.default('strata-local-function-key'),
  STRATA_ADMIN_KEY: nonEmpty.default('strata-local-admin-key'),
  STRATA_DURABLETASK_EXTENSION_KEY: nonEmpty.default('strata-local-durabletask-key'),
  STRATA_UPLOAD_MAX_BYTES: int(1).default(256 * 1024 * 1024),
  STRATA_PREDICTIONS_HUB: nonEmpty.default('predictions'),
  /** `off`: predictions are not logged (no monitoring of them); `on` (default) sends every one to the predictions hub. */
  STRATA_PREDICTION_LOG: z.enum(['on', 'off'], { message: 'must be on or off' }).default('on'),
  STRATA_SESSION_GRACE_MS: int(0).default(30_000),
  STRATA_SERVING_REFRESH_MS: int(1).default(DEFAULT_REFRESH_MS),
  STRATA_MAX_FUTURE_SKEW: duration('1h'),
  /** Local host: the host process's memory budget (RSS, MB); 0 = none beyond V8's own heap limit. */
  STRATA_MEMORY_BUDGET_MB: int(0).default(0),
  /** Local host: how long past host.json functionTimeout a blocked event loop is waited for before the watchdog restarts the host. */
  STRATA_WATCHDOG_GRACE: duration('10s'),
  STRATA_REDIS_READ_TIMEOUT_MS: int(1).default(1_000),
  STRATA_REDIS_WRITE_TIMEOUT_MS: int(1).default(10_000),
  STRATA_REDIS_CONNECT_TIMEOUT_MS: int(1).default(1_000),
  STRATA_TRAINING_SET_ASYNC_ROWS: int(0).default(100_000),
  /** Comma-separated paths of modules exporting users' trainers (shared/training/trainers.ts), loaded by every fit. */
  STRATA_TRAINER_MODULES: z
    .string()
    .trim()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  STRATA_TRAINING_MAX_CONCURRENT: int(1).default(1),
  STRATA_MONITOR_SCHEDULE: nonEmpty
    .default('0 */15 * * * *')
    .refine(
      isSchedule,
      'must be an NCRONTAB schedule (six fields, seconds first, e.g. "0 */15 * * * *", or five, e.g. "*/15 * * * *")',
    ),
  STRATA_MONITOR_WINDOW: duration('1h'),
  STRATA_MONITOR_MAX_EVENT_LOOP_DELAY_MS: int(1).default(100),
  STRATA_MONITOR_MAX_PREDICT_RATE: int(1).default(200),
  STRATA_MONITOR_DUCKDB_THREADS: int(1).default(1),
  STRATA_DUCKDB_MEMORY_LIMIT: nonEmpty
    .default('600MB')
    .refine((s) => /^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(s), 'must be a size such as 512MB or 1GB'),
  STRATA_ALERT_WEBHOOK_URL: z
    .string()
    .trim()
    .optional()
    .transform((s) => (s ? s : undefined))
    .refine((s) => s === undefined || /^https?:\/\//.test(s), 'must be an http:// or https:// URL'),
  STRATA_ALERT_WEBHOOK_SECRET: z
    .string()
    .optional()
    .transform((s) => (s ? s : undefined)),
  STRATA_LOG_LEVEL: z
    .enum(['debug', 'info', 'warn', 'error'], { message: 'must be one of debug, info, warn, error' })
    .default('info'),
  APPLICATIONINSIGHTS_CONNECTION_STRING: z
    .string()
    .trim()
    .optional()
    .transform((s) => (s ? s : undefined))
    .refine(
      (s) => s === undefined || /(^|;)\s*(InstrumentationKey|IngestionEndpoint)=/i.test(s),
      'must be an Application Insights connection string (InstrumentationKey=...;IngestionEndpoint=...)',
    ),
  // Read by shared/azure/connections.ts (see loadConfig).
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: z.string().optional(),
});

export type StrataConfig = Readonly<{
  /** AzureWebJobsStorage: a connection string (Azurite locally) or a managed identity's endpoints. */
  storage: StorageConnection;
  /** REDIS_URL with its auth (a key in the URL, or Microsoft Entra ID); undefined: the embedded store. */
  redis: RedisConnection | undefined;
  /** REDIS_URL (for display: never holds a token; may hold a key, so redact before printing). */
  redisUrl: string | undefined;
  /** EVENTHUB_CONNECTION: a connection string or a namespace with a credential; undefined: no Event Hubs. */
  eventHub: EventHubConnection | undefined;
  eventHubConsumerGroup: string;
  port: number;
  dataDir: string;
  functionKey: string;
  adminKey: string;
  /** Local host: the durabletask_extension system key (the Durable HTTP API's key). */
  durableTaskKey: string;
  uploadMaxBytes: number;
  predictionsHub: string;
  /** STRATA_PREDICTION_LOG: false = predictions are not logged anywhere. */
  predictionLog: boolean;
  sessionGraceMs: number;
  /** How old the model routing an instance serves may be: other instances see a promote or rollback within it. */
  servingRefreshMs: number;
  /** Records whose event time is more than this ahead of their arrival are dead-lettered. */
  maxFutureSkewMs: number;
  /** Local host: the process's memory budget in bytes (STRATA_MEMORY_BUDGET_MB; 0 = none). */
  memoryBudgetBytes: number;
  /** Local host: a blocked event loop is given host.json functionTimeout plus this before the watchdog acts. */
  watchdogGraceMs: number;
  /** Bound on one online-store read (features, predict, health): a frozen Redis answers 503 after it. */
  redisReadTimeoutMs: number;
  /** Bound on one online-store write pipeline (ingest retries the batch after it). */
  redisWriteTimeoutMs: number;
  redisConnectTimeoutMs: number;
  /** POST /api/training-sets with a spine of more rows than this runs as a Durable job (202). */
  trainingSetAsyncRows: number;
  /** Users' trainer modules (STRATA_TRAINER_MODULES). */
  trainerModules: string[];
  /** Fits at once per instance (STRATA_TRAINING_MAX_CONCURRENT; heavy-tagged jobs: one). */
  trainingMaxConcurrent: number;
  /** When the monitoring timer runs (NCRONTAB, six fields or five). */
  monitorSchedule: string;
  /** Length of one monitoring window. */
  monitorWindowMs: number;
  /** Monitoring defers a run when the event loop's recent p99 delay is above this (ms). */
  monitorMaxEventLoopDelayMs: number;
  /** ... or when this process served more predict requests per second than this over the last minute. */
  monitorMaxPredictRate: number;
  /** Threads of monitoring's own DuckDB (serving keeps the other cores). */
  monitorDuckdbThreads: number;
  /** Memory limit of the offline store's DuckDB (training sets, compaction); past it DuckDB spills to disk. */
  duckdbMemoryLimit: string;
  /** Alerts are POSTed here as JSON when set. */
  alertWebhookUrl: string | undefined;
  /** Signs each webhook body (HMAC-SHA256, header x-strata-signature: sha256=<hex>). */
  alertWebhookSecret: string | undefined;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Set: the app exports its metrics to Application Insights (shared/telemetry). */
  appInsightsConnectionString: string | undefined;
  /** APPLICATIONINSIGHTS_AUTHENTICATION_STRING: the identity telemetry is sent with (Application Insights with local auth off). */
  appInsightsCredential: CredentialSpec | undefined;
}>;

/** The setting names the code reads, for docs and local.settings.example.json checks. */
export const SETTING_NAMES = Object.keys(schema.shape);

/**
 * Settings only the local host reads: on Azure the Functions host owns the port and the keys
 * (function and admin keys live in the host's key store), so infra/ never sets these; a key
 * there would be a secret in plain app settings.
 */
export const LOCAL_ONLY_SETTINGS: readonly string[] = Object.freeze([
  'STRATA_PORT',
  'STRATA_FUNCTION_KEY',
  'STRATA_ADMIN_KEY',
  'STRATA_DURABLETASK_EXTENSION_KEY',
  // The local host's watchdog: on Azure the Functions host enforces functionTimeout and the plan's memory.
  'STRATA_MEMORY_BUDGET_MB',
  'STRATA_WATCHDOG_GRACE',
]);

/** Parse settings from an environment; throws ConfigError naming every bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): StrataConfig {
  const picked: Record<string, string | undefined> = {};
  for (const k of SETTING_NAMES) picked[k] = env[k] === '' ? undefined : env[k];
  const r = schema.safeParse(picked);
  const problems = r.success ? [] : detailsFromZod(r.error.issues);
  const storage = storageConnectionFromSettings('AzureWebJobsStorage', env, {
    whenUnset: runsOnAzure(env) ? 'missing' : 'local',
  });
  const redis = redisConnectionFromSettings('REDIS_URL', env);
  const eventHub = eventHubConnectionFromSettings('EVENTHUB_CONNECTION', env);
  const appInsightsCredential = appInsightsCredentialFromSettings('APPLICATIONINSIGHTS_AUTHENTICATION_STRING', env);
  for (const c of [storage, redis, eventHub, appInsightsCredential] as Resolved<unknown>[])
    if (!c.ok) problems.push(...c.problems);
  if (storage.ok && !storage.value) {
    problems.push({
      where: 'AzureWebJobsStorage',
      problem:
        'is not set, and the app runs on Azure: set AzureWebJobsStorage__accountName (with __credential=managedidentity and __clientId) or a connection string; Strata never falls back to a local emulator there',
    });
  }
  if (
    !r.success ||
    problems.length ||
    !storage.ok ||
    !storage.value ||
    !redis.ok ||
    !eventHub.ok ||
    !appInsightsCredential.ok
  )
    throw new ConfigError(problems);
  const s = r.data;
  return Object.freeze({
    storage: storage.value,
    redis: redis.value,
    redisUrl: redis.value?.url,
    eventHub: eventHub.value,
    eventHubConsumerGroup: s.EVENTHUB_CONSUMER_GROUP,
    port: s.STRATA_PORT,
    dataDir: s.STRATA_DATA_DIR,
    functionKey: s.STRATA_FUNCTION_KEY,
    adminKey: s.STRATA_ADMIN_KEY,
    durableTaskKey: s.STRATA_DURABLETASK_EXTENSION_KEY,
    uploadMaxBytes: s.STRATA_UPLOAD_MAX_BYTES,
    predictionsHub: s.STRATA_PREDICTIONS_HUB,
    predictionLog: s.STRATA_PREDICTION_LOG === 'on',
    sessionGraceMs: s.STRATA_SESSION_GRACE_MS,
    servingRefreshMs: s.STRATA_SERVING_REFRESH_MS,
    maxFutureSkewMs: s.STRATA_MAX_FUTURE_SKEW,
    memoryBudgetBytes: s.STRATA_MEMORY_BUDGET_MB * 1024 * 1024,
    watchdogGraceMs: s.STRATA_WATCHDOG_GRACE,
    redisReadTimeoutMs: s.STRATA_REDIS_READ_TIMEOUT_MS,
    redisWriteTimeoutMs: s.STRATA_REDIS_WRITE_TIMEOUT_MS,
    redisConnectTimeoutMs: s.STRATA_REDIS_CONNECT_TIMEOUT_MS,
    trainingSetAsyncRows: s.STRATA_TRAINING_SET_ASYNC_ROWS,
    trainerModules: s.STRATA_TRAINER_MODULES,
    trainingMaxConcurrent: s.STRATA_TRAINING_MAX_CONCURRENT,
    monitorSchedule: s.STRATA_MONITOR_SCHEDULE,
    monitorWindowMs: s.STRATA_MONITOR_WINDOW,
    monitorMaxEventLoopDelayMs: s.STRATA_MONITOR_MAX_EVENT_LOOP_DELAY_MS,
    monitorMaxPredictRate: s.STRATA_MONITOR_MAX_PREDICT_RATE,
    monitorDuckdbThreads: s.STRATA_MONITOR_DUCKDB_THREADS,
    duckdbMemoryLimit: s.STRATA_DUCKDB_MEMORY_LIMIT,
    alertWebhookUrl: s.STRATA_ALERT_WEBHOOK_URL,
    alertWebhookSecret: s.STRATA_ALERT_WEBHOOK_SECRET,
    logLevel: s.STRATA_LOG_LEVEL,
    appInsightsConnectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
    appInsightsCredential: appInsightsCredential.value,
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
