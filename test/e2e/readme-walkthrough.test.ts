/**
 * The README's walkthrough cannot rot: every fenced block opened with ```bash walkthrough runs,
 * in README order, against a fresh local host, and the test fails on any non-zero exit (curl
 * in these blocks must use -f, so an unexpected HTTP status is a non-zero exit too).
 *
 * Substitutions (the only ones; the README says so too):
 *   - `127.0.0.1:7071` becomes the test host's address, and STRATA_URL points the CLI at it;
 *   - `npx strata` becomes `strata`, on PATH as this checkout's CLI (dist/cli/main.js);
 *   - the local host's default keys (strata-local-function-key, strata-local-admin-key) become
 *     the test host's keys, and STRATA_FUNCTION_KEY / STRATA_ADMIN_KEY hold them for the CLI;
 *   - the blocks run in a fresh folder holding `examples/` (a link to the checkout's).
 * Blocks share one shell state: variables a block sets (ID=...) are there in the next.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, ADMIN_KEY, FUNCTION_KEY } from '../helpers/host-process';
import { useHost } from '../helpers/local-host';

interface Block {
  line: number;
  code: string;
}

/** The ```bash walkthrough blocks of a Markdown text, in order, with their line numbers. */
function walkthroughBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```bash\s+walkthrough\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

const { tmp, host } = useHost({ tempPrefix: 'strata-readme-' });
const work = path.join(tmp.dir, 'work');
const bin = path.join(tmp.dir, 'bin');
const state = path.join(tmp.dir, 'shell-state');
const blocks = walkthroughBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));

beforeAll(async () => {
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(bin, { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'examples'), path.join(work, 'examples'));
  fs.writeFileSync(
    path.join(bin, 'strata'),
    `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'dist/cli/main.js')}" "$@"\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(state, '');
});

function substitute(code: string): string {
  return code
    .replaceAll('127.0.0.1:7071', `127.0.0.1:${host.port}`)
    .replaceAll('strata-local-function-key', FUNCTION_KEY)
    .replaceAll('strata-local-admin-key', ADMIN_KEY)
    .replace(/\bnpx strata\b/g, 'strata');
}

function runBlock(code: string): Promise<{ code: number | null; output: string }> {
  const script = [
    'set -euo pipefail',
    'set -a',
    `source ${JSON.stringify(state)}`,
    code,
    `export -p > ${JSON.stringify(`${state}.next`)}`,
  ].join('\n');
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], {
      cwd: work,
      env: {
        ...process.env,
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
        STRATA_URL: host.baseUrl,
        STRATA_FUNCTION_KEY: FUNCTION_KEY,
        STRATA_ADMIN_KEY: ADMIN_KEY,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (exit) => {
      clearTimeout(timer);
      if (exit === 0) fs.renameSync(`${state}.next`, state);
      resolve({ code: exit, output });
    });
  });
}

describe('the README walkthrough', () => {
  it('has blocks, and every curl in them fails on an HTTP error (-f)', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    const curls = blocks.flatMap((b) =>
      b.code
        .split('\n')
        .filter((l) => /(^|\s|\()curl\s/.test(l))
        .map((l) => ({ line: b.line, l })),
    );
    expect(curls.length).toBeGreaterThan(0);
    const failsOnHttpError = (line: string) =>
      line.split(/\s+/).some((t) => t === '--fail' || /^-[a-zA-Z]*f[a-zA-Z]*$/.test(t));
    expect(curls.filter(({ l }) => !failsOnHttpError(l))).toEqual([]);
  });

  it('runs every block in order against a fresh host, each exiting 0', async () => {
    for (const b of blocks) {
      const r = await runBlock(substitute(b.code));
      expect(
        r.code,
        `README.md block at line ${b.line} exited ${r.code}:\n${b.code}\n--- output ---\n${r.output}`,
      ).toBe(0);
    }
    // What the walkthrough promises to leave behind.
    expect(fs.statSync(path.join(work, 'churn-train.parquet')).size).toBeGreaterThan(0);
    const csv = fs.readFileSync(path.join(work, 'churn-train.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(
      'row_id,entity_id,ts,label,clicks_1h,clicks_24h,distinct_pages_24h,purchases_7d,spend_7d,avg_order_30d,max_order_30d,spend_per_click,is_active',
    );
    expect(csv).toHaveLength(fs.readFileSync(path.join(ROOT, 'examples/spine.csv'), 'utf8').trim().split('\n').length);
    expect(fs.readFileSync(path.join(work, 'churn-train-curl.csv'), 'utf8')).toBe(
      fs.readFileSync(path.join(work, 'churn-train.csv'), 'utf8'),
    );
  }, 900_000);
});
