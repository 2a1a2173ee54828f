import fs from 'node:fs';
import path from 'node:path';

/** The app's version from package.json (found from the compiled or source location). */
function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    const p = path.resolve(__dirname, rel);
    if (fs.existsSync(p)) return (JSON.parse(fs.readFileSync(p, 'utf8')) as { version?: string }).version ?? '0.0.0';
  }
  return '0.0.0';
}

export const APP_VERSION = readVersion();
