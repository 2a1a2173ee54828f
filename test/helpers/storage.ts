/**
 * A test file's own Azurite in a temporary folder, started before its tests and stopped (and
 * the folder removed) after them.
 *
 *   useAzurite(prefix?)                 one storage account
 *   useAzuriteAccounts(count, prefix?)  one Azurite serving `count` storage accounts: each
 *                                       next() is a fresh, isolated account (another deployment's
 *                                       storage) without starting another Azurite
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

export interface TestAccounts {
  readonly dir: string;
  /** The connection string of an account no other caller got. */
  next(): string;
}

export function useAzuriteAccounts(count: number, prefix = 'strata-test-'): TestAccounts {
  const tmp = tempDir(prefix);
  const accounts = Array.from({ length: count }, (_, i) => `testaccount${i}`);
  let handle: AzuriteHandle | undefined;
  let used = 0;
  beforeAll(async () => {
    handle = await startAzurite({ location: path.join(tmp.dir, 'azurite'), accounts });
  });
  afterAll(async () => {
    await handle?.stop();
    tmp.cleanup();
  });
  return {
    dir: tmp.dir,
    next() {
      if (!handle) throw new Error('Azurite is not started yet (use it inside tests or hooks)');
      if (used >= accounts.length)
        throw new Error(
          `all ${accounts.length} storage accounts of this test file are in use; ask useAzuriteAccounts for more`,
        );
      return handle.connectionStringFor(accounts[used++]!);
    },
  };
}
