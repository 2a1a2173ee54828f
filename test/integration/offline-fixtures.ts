/**
 * Fixtures for offline-store and training-set tests: a real Azurite, stores with their own
 * clients and cache folders, and small builders for rows and inputs.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { Storage } from '../../shared/azure/storage';
import { OfflineStore, type OfflineStoreOptions } from '../../shared/features/offline';
import type { SegmentLineage, SegmentSpec } from '../../shared/features/offline';
import type { FeatureColumn, FeatureRow, FeatureValue } from '../../shared/features/definitions/values';
import { tempDir } from '../helpers/temp';

export const ROOT = path.resolve(__dirname, '../..');

export const CLICK_COLUMNS: FeatureColumn[] = [
  { name: 'clicks', type: 'int' },
  { name: 'spend', type: 'float' },
  { name: 'country', type: 'string' },
  { name: 'active', type: 'bool' },
];

/** Epoch ms of an ISO time (UTC when no zone is given). */
export const t = (iso: string): number => Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`);

export function row(
  entityId: string,
  eventTs: number | string,
  createdTs: number | string,
  values: Record<string, FeatureValue>,
): FeatureRow {
  return {
    entityId,
    eventTs: typeof eventTs === 'string' ? t(eventTs) : eventTs,
    createdTs: typeof createdTs === 'string' ? t(createdTs) : createdTs,
    values,
  };
}

/** An Event Hubs batch's lineage: partition `p`, sequence numbers first..last. */
export function hubBatch(first: number, last: number, partition = '0', source = 'clicks'): SegmentLineage {
  return {
    input: { kind: 'eventhub', source, partition, firstSeq: first, lastSeq: last },
    jobId: `job-${first}-${last}`,
  };
}

export function spec(view: string, lineage: SegmentLineage, columns = CLICK_COLUMNS, version = 'v1'): SegmentSpec {
  return { view, version, columns, lineage };
}

export interface OfflineEnv {
  azurite: AzuriteHandle;
  connectionString: string;
  /** A store with its own Blob/Table clients and its own cache folder (like another process). */
  store(opts?: Partial<OfflineStoreOptions>): Promise<OfflineStore>;
  /** A fresh Storage (own clients) on the same account. */
  storage(): Storage;
  dir: string;
  stop(): Promise<void>;
}

export async function startOfflineEnv(): Promise<OfflineEnv> {
  const tmp = tempDir('strata-offline-');
  const azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  let n = 0;
  return {
    azurite,
    connectionString: azurite.connectionString,
    dir: tmp.dir,
    storage: () => new Storage(azurite.connectionString),
    store: (opts = {}) =>
      OfflineStore.open({
        storage: new Storage(azurite.connectionString),
        cacheDir: path.join(tmp.dir, `cache-${++n}`),
        ...opts,
      }),
    async stop() {
      await azurite.stop();
      tmp.cleanup();
    },
  };
}

/** Sort rows the way readRows returns them, for comparisons. */
export function sorted(rows: readonly FeatureRow[]): FeatureRow[] {
  return [...rows].sort((a, b) =>
    a.entityId < b.entityId ? -1 : a.entityId > b.entityId ? 1 : a.eventTs - b.eventTs || a.createdTs - b.createdTs,
  );
}

/**
 * Transpile the project's TypeScript (shared/ and local/) into `outDir` so a plain `node`
 * child process can load the same modules the tests use, without depending on a prior build.
 */
export function transpileProject(outDir: string): string {
  const walk = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory()
          ? walk(path.join(dir, e.name))
          : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')
            ? [path.join(dir, e.name)]
            : [],
      );
  for (const src of [...walk(path.join(ROOT, 'shared')), ...walk(path.join(ROOT, 'local'))]) {
    const out = path.join(outDir, path.relative(ROOT, src)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const js = ts.transpileModule(fs.readFileSync(src, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: src,
    }).outputText;
    fs.writeFileSync(out, js);
  }
  // Resolve packages from the project's node_modules.
  const link = path.join(outDir, 'node_modules');
  if (!fs.existsSync(link)) fs.symlinkSync(path.join(ROOT, 'node_modules'), link, 'dir');
  return outDir;
}
