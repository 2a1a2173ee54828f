/**
 * Run the `strata` CLI (dist/cli/main.js) as a child process like a user would, against a
 * host: exit code, stdout and stderr, and stdout as JSON for --json runs.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './host-process';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

export function runCli(
  args: string[],
  o: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'dist/cli/main.js'), ...args],
      {
        cwd: o.cwd ?? ROOT,
        env: { ...process.env, ...o.env },
        timeout: o.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({
          code,
          stdout,
          stderr,
          json<T>() {
            try {
              return JSON.parse(stdout) as T;
            } catch {
              throw new Error(`strata ${args.join(' ')} printed no JSON (exit ${code}):\n${stdout}\n${stderr}`);
            }
          },
        });
      },
    );
  });
}
