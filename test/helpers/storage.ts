/**
 * A test file's own Azurite in a temporary folder, started before its tests and stopped (and
 * the folder removed) after them.
 */
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { tempDir } from './temp';

export interface TestStorage {
  /** The temporary folder (Azurite's data is in its `azurite/` subfolder). */
  readonly dir: string;
  readonly azurite: AzuriteHandle;
  readonly connectionString: string;
}

export function useAzurite(prefix = 'strata-test-'): TestStorage {
  const tmp = tempDir(prefix);
  let handle: AzuriteHandle | undefined;
  beforeAll(async () => {
    handle = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  });
  afterAll(async () => {
    await handle?.stop();
    tmp.cleanup();
  });
  return {
    dir: tmp.dir,
    get azurite() {
      if (!handle) throw new Error('Azurite is not started yet (use it inside tests or hooks)');
      return handle;
    },
    get connectionString() {
      return this.azurite.connectionString;
    },
  };
}
