/**
 * Which storage a binding's `connection` setting names, as the Functions host reads it
 * (shared/azure/connections.ts): AzureWebJobsStorage (or nothing) is the host's own, otherwise a
 * connection string in the app setting of that name (or AzureWebJobs<name>) or identity-based keys
 * (`<name>__accountName`, `__blobServiceUri`, ...). Apart from the bindings (storage.ts) so the
 * binding plan (plan.ts) can check settings without them.
 */
import {
  DEVELOPMENT_STORAGE,
  storageConnectionFromSettings,
  type StorageConnection,
  type StorageService,
} from '../../shared/azure/connections';

export class BindingError extends Error {
  override readonly name = 'BindingError';
}

/**
 * The storage a binding's `connection` setting names (for the one service the binding uses, so an
 * identity-based blob connection needs only its blob endpoint).
 */
export function storageConnectionFor<H extends StorageConnection | string>(
  setting: unknown,
  hostConnection: H,
  env: NodeJS.ProcessEnv = process.env,
  service?: StorageService,
): StorageConnection | H {
  const name = typeof setting === 'string' ? setting.trim() : '';
  if (!name || name === 'AzureWebJobsStorage') return hostConnection;
  if ((env[name] || env[`AzureWebJobs${name}`]) === DEVELOPMENT_STORAGE) return hostConnection;
  const r = storageConnectionFromSettings(name, env, {
    whenUnset: 'missing',
    ...(service ? { services: [service] } : { services: [] }),
  });
  if (!r.ok)
    throw new BindingError(`connection "${name}": ${r.problems.map((p) => `${p.where} ${p.problem}`).join('; ')}`);
  if (!r.value)
    throw new BindingError(
      `connection "${name}": no app setting "${name}" (or "AzureWebJobs${name}") holds a storage connection string, and no "${name}__accountName" (or "${name}__blobServiceUri", ...) names an account for the managed identity`,
    );
  return r.value;
}

/** The storage service each storage binding type uses. */
export const SERVICE_OF: Record<string, StorageService> = {
  blob: 'blob',
  blobTrigger: 'blob',
  table: 'table',
  queue: 'queue',
  queueTrigger: 'queue',
};
