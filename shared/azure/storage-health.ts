/**
 * The health probes of one storage account (shared/health.ts runs them for GET /api/health):
 * Blob answers its service properties (and says whether it is Azurite), Table lists one page
 * of tables. Kept here because they speak to the Azure clients directly.
 */
import type { HealthProbe } from '../health';
import type { Storage } from './storage';

export function storageProbes(storage: Storage): { blob: HealthProbe; table: HealthProbe } {
  return {
    blob: async () => {
      const info = await storage.blobs.getProperties();
      return {
        ok: true,
        version: storage.blobs.url.includes('127.0.0.1') ? 'azurite' : 'azure',
        detail: info.defaultServiceVersion ?? undefined,
      };
    },
    table: async () => {
      await storage.tableService().listTables().byPage({ maxPageSize: 1 }).next();
      return { ok: true };
    },
  };
}
