/**
 * A benchmark's process: `run` gets a fresh temporary directory (removed afterwards, whatever
 * happens) and returns its figures, printed as one JSON object; a failure exits 1 with the error.
 *
 *   benchMain('strata-bench-x-', async (tmp) => ({ bench: 'x', seconds: 1.2 }));
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function benchMain(tmpPrefix: string, run: (tmp: string) => Promise<object>): void {
  const main = async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
    try {
      console.log(JSON.stringify(await run(tmp), null, 2));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  };
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

/** `x` to `digits` decimals, as a number (figures stay readable in the JSON). */
export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
