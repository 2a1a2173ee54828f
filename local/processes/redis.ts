/**
 * A real redis-server on a free port, for tests, benchmarks and `npm start -- --redis`.
 * No persistence: it is a cache of the offline store, rebuilt from it when needed.
 */
import { spawn, execFileSync } from 'node:child_process';
import { freePort, waitForPort } from './ports';

export interface RedisHandle {
  url: string;
  port: number;
  /** The redis-server process (tests freeze it with SIGSTOP). */
  pid: number;
  stop(): Promise<void>;
}

export function redisServerPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function startRedis(port?: number): Promise<RedisHandle> {
  const bin = redisServerPath();
  if (!bin) {
    throw new Error(
      'redis-server is not on PATH. Install it (Debian: sudo apt-get install -y redis-server); `npm test` does this when run as root.',
    );
  }
  const p = port ?? (await freePort());
  const child = spawn(
    bin,
    ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
    {
      stdio: 'ignore',
    },
  );
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  await Promise.race([
    waitForPort(p, { service: 'redis-server', onSlow: (m) => console.warn(`[redis :${p}] ${m}`) }),
    exitedPromise.then(() => {
      throw new Error(`redis-server exited during start on port ${p}`);
    }),
  ]);
  return {
    url: `redis://127.0.0.1:${p}`,
    port: p,
    pid: child.pid!,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      await exitedPromise;
    },
  };
}
