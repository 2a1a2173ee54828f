/**
 * The composition root: every long-lived service of the app, built once per process on first
 * use from the config and the feature repo. Functions ask for what they need; tests build their
 * own services from the same constructors.
 */
import path from 'node:path';
import { config, type StrataConfig } from './config';
import { storageFor, type Storage } from './storage/clients';
import type { OnlineStore } from './features/online/types';
import { createOnlineStore } from './features/online';
import { OfflineStore } from './features/offline/store';
import { Manifest, MANIFEST_TABLE } from './features/offline/manifest';
import { DeadLetterStore } from './features/dead-letter';
import { IngestService } from './features/ingest';
import type { FeatureRepo } from './features/repo';
import { featureRepo } from './definitions';

export interface Platform {
  config: StrataConfig;
  repo: FeatureRepo;
  storage: Storage;
  online: OnlineStore;
  offline(): Promise<OfflineStore>;
  manifest(): Promise<Manifest>;
  deadLetters: DeadLetterStore;
  ingest(): Promise<IngestService>;
}

/** Memoize an async factory; a failure is not cached (the next call tries again). */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    if (!p) {
      p = make();
      p.catch(() => (p = undefined));
    }
    return p;
  };
}

export function createPlatform(cfg: StrataConfig = config(), repo: FeatureRepo = featureRepo): Platform {
  const storage = storageFor(cfg.storageConnection);
  const online = createOnlineStore(cfg);
  const offline = once(() => OfflineStore.open({ storage, cacheDir: path.resolve(cfg.dataDir, 'cache', 'offline') }));
  const manifest = once(async () => new Manifest(await storage.table(MANIFEST_TABLE)));
  const deadLetters = new DeadLetterStore(storage);
  const ingest = once(async () => new IngestService({ repo, offline: await offline(), online, deadLetters, manifest: await manifest() }));
  return { config: cfg, repo, storage, online, offline, manifest, deadLetters, ingest };
}

let current: Platform | undefined;
/** The process's platform (built on first use). */
export function platform(): Platform {
  return (current ??= createPlatform());
}
