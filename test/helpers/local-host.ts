/**
 * One local host for a whole test file, as most end-to-end files want it: a temporary folder,
 * real Azurite in it, and the host running Strata's app (dist/functions/index.js) with the test
 * keys, started and healthy before the file's tests and stopped, with Azurite, after them.
 *
 *   const { tmp, azurite, host } = useHost({ tempPrefix: 'strata-cli-' });
 *
 * Call it at the top level of the file. `tmp.dir` exists at once; `host` and `azurite` are
 * read in tests and in the file's own beforeAll (it runs after this one, so it can seed data).
 * They are stand-ins that forward to the started handles, so a file reads `host.baseUrl` as it
 * would read a handle it started itself; reading one before the start is an error saying so.
 */
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { ROOT, startHostProcess, type HostProcess } from './host-process';
import { tempDir } from './temp';

export interface UseHostOptions {
  /** The temporary folder's name prefix (it says which file left it behind). */
  tempPrefix: string;
  /** Settings for the host beyond the test keys. */
  env?: Record<string, string>;
}

export interface LocalHost {
  /** The file's temporary folder (Azurite's data in azurite/, the host's in data/), removed after it. */
  tmp: { readonly dir: string };
  azurite: AzuriteHandle;
  host: HostProcess;
}

export function useHost(o: UseHostOptions): LocalHost {
  const tmp = tempDir(o.tempPrefix);
  const azurite = lateBound<AzuriteHandle>('Azurite');
  const host = lateBound<HostProcess>('the host');
  beforeAll(async () => {
    azurite.set(await startAzurite({ location: path.join(tmp.dir, 'azurite') }));
    host.set(
      await startHostProcess({
        entry: path.join(ROOT, 'dist/functions/index.js'),
        storageConnection: azurite.value().connectionString,
        dataDir: path.join(tmp.dir, 'data'),
        ...(o.env !== undefined ? { env: o.env } : {}),
      }),
    );
  });
  afterAll(async () => {
    // A failed start leaves a handle unset: stop what did start.
    await host.ifSet()?.stop();
    await azurite.ifSet()?.stop();
    tmp.cleanup();
  });
  return { tmp: { dir: tmp.dir }, azurite: azurite.proxy, host: host.proxy };
}

/** A value set in a hook, and a stand-in object that forwards every property to it once set. */
function lateBound<T extends object>(what: string) {
  let current: T | undefined;
  const value = (): T => {
    if (current === undefined) throw new Error(`${what} is not started yet: read it in a test or in a beforeAll`);
    return current;
  };
  const proxy = new Proxy({} as T, {
    get(_, prop) {
      const target = value();
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
    has: (_, prop) => Reflect.has(value(), prop),
  });
  return {
    proxy,
    value,
    ifSet: () => current,
    set(v: T) {
      current = v;
    },
  };
}
