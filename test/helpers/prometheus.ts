/**
 * Debian's prometheus binary for tests: started on a free port with a temp storage folder
 * and a config built from infra/monitoring/prometheus.yml (the real file, with its target,
 * key and interval filled in), and queried over its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../local/processes/ports';
import { ROOT, eventually } from './host-process';
import { ensureDebianPackage } from './debian';
import { WAIT_MS } from './wait';

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
  url: string;
  /** An instant query, at `time` (epoch seconds) or now. */
  query(expr: string, time?: number): Promise<PromSample[]>;
  /** Scrapes of the job stored so far (samples of its `up` series). */
  scrapes(job: string): Promise<number>;
  output(): string;
  stop(): Promise<void>;
}

/** infra/monitoring/prometheus.yml with the target, the key and the scrape interval replaced. */
export function prometheusConfig(target: string, key: string, interval = '1s'): string {
  const template = fs.readFileSync(path.join(ROOT, 'infra/monitoring/prometheus.yml'), 'utf8');
  for (const needle of ["'127.0.0.1:7071'", "'STRATA_FUNCTION_KEY'", 'scrape_interval: 15s']) {
    if (!template.includes(needle))
      throw new Error(`infra/monitoring/prometheus.yml no longer contains ${needle}; update this helper with it`);
  }
  return template
    .replace("'127.0.0.1:7071'", `'${target}'`)
    .replace("'STRATA_FUNCTION_KEY'", `'${key}'`)
    .replace('scrape_interval: 15s', `scrape_interval: ${interval}`);
}

export async function startPrometheus(dir: string, config: string): Promise<Prometheus> {
  ensureDebianPackage('prometheus', 'prometheus', 'prometheus');
  const port = await freePort();
  fs.mkdirSync(path.join(dir, 'tsdb'), { recursive: true });
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, config);
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const query = async (expr: string, time?: number): Promise<PromSample[]> => {
    const res = await fetch(
      `${url}/api/v1/query?query=${encodeURIComponent(expr)}${time !== undefined ? `&time=${time}` : ''}`,
    );
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: PromSample[] };
    };
    if (body.status !== 'success') throw new Error(`Prometheus query ${expr}: ${body.error}`);
    if (body.data!.resultType !== 'vector')
      throw new Error(`Prometheus query ${expr}: expected a vector, got ${body.data!.resultType}`);
    return body.data!.result;
  };
  const handle: Prometheus = {
    url,
    query,
    async scrapes(job) {
      const up = await query(`count_over_time(up{job="${job}"}[1h])`);
      return up.length ? Number(up[0]!.value[1]) : 0;
    },
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
  let dead = false;
  void exited.then(() => (dead = true));
  try {
    await eventually(
      async () => {
        if (dead) throw new Error(`prometheus exited: ${out}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200 ? true : undefined;
      },
      WAIT_MS,
      `prometheus ready on ${url}`,
    );
  } catch (e) {
    await handle.stop();
    throw new Error(`${(e as Error).message}\n${out}`);
  }
  return handle;
}
