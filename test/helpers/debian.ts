/**
 * Tests that run a real Debian program make sure it is installed first (apt-get as root,
 * like scripts/ensure-redis.sh), so `npx vitest run <file>` works on a fresh machine too.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './host-process';

export function ensureDebianPackage(command: string, pkg: string, service?: string): void {
  execFileSync(
    'bash',
    [path.join(ROOT, 'scripts/ensure-debian-package.sh'), command, pkg, ...(service ? [service] : [])],
    { stdio: 'inherit', timeout: 600_000 },
  );
}
