/**
 * The checkout's root (the folder with host.json and package.json), found by walking up from a
 * script, so scripts work both compiled (dist/scripts/) and imported from TypeScript by tests.
 */
import fs from 'node:fs';
import path from 'node:path';

export function repoRoot(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'host.json')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no host.json + package.json above ${from}`);
  }
}
