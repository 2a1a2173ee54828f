/**
 * Which files make up the app, as the Node worker decides it: package.json `main` (or
 * `--entry`) is a glob (`dist/src/functions/*.js`, `dist/src/{index.js,functions/*.js}`), every
 * match is loaded, and an empty match is an error that says so.
 *
 * The worker matches with globby 11 (fast-glob underneath), whose order is the order of
 * fast-glob's tasks (one per base directory, in the order the pattern names them) and, inside a
 * task, the order the file system lists the directory. Azure's file systems (zip/squashfs
 * packages, NTFS) list names sorted, Linux's ext4 does not; so here each task's files are sorted
 * by name, which is the order an app sees in Azure on every machine. fast-glob itself is used
 * for the matching and the task split, so the patterns mean exactly what they mean there.
 */
import fs from 'node:fs';
import path from 'node:path';
import fg from 'fast-glob';
import { StartupError } from '../errors';

/** Absolute paths of the files `pattern` names under `appDir`, in load order; throws StartupError when there are none. */
export function resolveEntryPoints(pattern: string, appDir: string): string[] {
  const normalized = pattern.replace(/\\/g, '/').replace(/^\.\//, '');
  const options = { cwd: appDir, onlyFiles: true, dot: false, unique: true } as const;
  const seen = new Set<string>();
  const files: string[] = [];
  for (const task of fg.generateTasks([normalized], options)) {
    const matches = fg.sync(task.positive, { ...options, ignore: task.negative }).sort(byName);
    for (const m of matches) {
      const abs = path.resolve(appDir, m);
      if (seen.has(abs)) continue;
      seen.add(abs);
      files.push(abs);
    }
  }
  if (!files.length) {
    // The worker's own wording, with the pattern and folder it looked in.
    const why = fg.isDynamicPattern(normalized)
      ? 'Found zero files matching the supplied pattern'
      : 'File does not exist';
    throw new StartupError(`entry point "${pattern}" (in ${appDir}): ${why}${hint(normalized, appDir)}`);
  }
  return files;
}

/** Code-point order of the path, so the same tree loads the same way everywhere. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The usual cause: a TypeScript app that was not built yet. */
function hint(pattern: string, appDir: string): string {
  const top = pattern.split('/')[0] ?? '';
  if ((top === 'dist' || top === 'build') && !fs.existsSync(path.join(appDir, top)))
    return ` (there is no ${top}/ folder: build the app first, e.g. npm run build)`;
  return '';
}

/** The app's package.json `main`, or undefined when there is none (the worker then loads nothing). */
export function packageMain(appDir: string): string | undefined {
  const file = path.join(appDir, 'package.json');
  if (!fs.existsSync(file)) return undefined;
  let pkg: unknown;
  try {
    pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new StartupError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const main = (pkg as { main?: unknown } | null)?.main;
  if (main === undefined) return undefined;
  if (typeof main !== 'string' || !main.trim())
    throw new StartupError(`${file}: "main" must be a file name or glob, got ${JSON.stringify(main)}`);
  return main;
}
