/**
 * `npm run package`: the zip that `az functionapp deployment source config-zip` and the Flex
 * Consumption / run-from-package deployment take (README "Deploying to Azure"; unzipped, it is
 * the folder `func azure functionapp publish --no-build` publishes).
 *
 * What goes in, and why:
 * - host.json and package.json (its `main` is the entry the Functions host loads);
 * - the compiled app: dist/ output of the sources under functions/, orchestrations/, shared/
 *   (only of sources that exist, so stale output of a deleted file never ships). The local
 *   host (local/), its test fixtures, benchmarks and these scripts stay out;
 * - the built dashboard (dist/dashboard/: the files its manifest.json lists, and the
 *   manifest), which GET /api/dashboard serves;
 * - production dependencies only: the packages package-lock.json does not mark `dev`, as
 *   installed in node_modules (npm installs only this platform's optional native packages).
 *   Left out of them: .bin links, type declarations and source maps (never loaded at run
 *   time), and the native binaries onnxruntime-node ships for other platforms.
 *
 * Azure Functions on Linux runs x64 with glibc; native packages (DuckDB, onnxruntime) are
 * installed for the machine npm ran on, so packaging refuses to run elsewhere.
 * The zip is deterministic: entries sorted, one fixed timestamp.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ZipFile } from 'yazl';
import { repoRoot } from './repo-root';

export const APP_SOURCE_DIRS = ['functions', 'orchestrations', 'shared'] as const;
/** The dashboard's build output under dist/ (scripts/build-dashboard.mjs). */
export const DASHBOARD_DIR = 'dashboard';
export const TARGET = { platform: 'linux', arch: 'x64' } as const;
/** Zip entries' timestamp (the earliest a zip can hold in local time is 1980). */
const ZIP_TIME = new Date(Date.UTC(1980, 0, 2));

export interface PackageEntry {
  /** Path inside the zip (forward slashes). */
  name: string;
  /** File on disk. */
  source: string;
  size: number;
  mode: number;
}

export interface PackageContents {
  entries: PackageEntry[];
  /** Production packages included (lock paths, e.g. node_modules/zod). */
  packages: string[];
  /** Files of production packages left out, by the rule that left them out. */
  omitted: Record<string, number>;
}

interface LockPackage {
  dev?: boolean;
  link?: boolean;
}

/** Why a file of a production package stays out of the zip, or undefined to keep it. */
export function omitReason(pkg: string, relInPkg: string): string | undefined {
  if (/(^|\/)\.bin(\/|$)/.test(relInPkg)) return '.bin links';
  if (/\.d\.[cm]?ts$/.test(relInPkg)) return 'type declarations';
  if (/\.map$/.test(relInPkg)) return 'source maps';
  if (pkg.endsWith('node_modules/onnxruntime-node')) {
    const m = /^bin\/napi-v\d+\/([^/]+)\/([^/]+)\//.exec(relInPkg);
    if (m && (m[1] !== TARGET.platform || m[2] !== TARGET.arch)) return 'onnxruntime-node binaries of other platforms';
  }
  return undefined;
}

function walk(dir: string, skipNestedModules: boolean, out: string[] = []): string[] {
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, d.name);
    if (d.isDirectory()) {
      if (skipNestedModules && d.name === 'node_modules') continue; // nested packages are lock entries of their own
      walk(full, skipNestedModules, out);
    } else if (d.isFile()) {
      out.push(full);
    }
    // Symlinks (.bin entries, npm links) are never followed: the zip holds regular files.
  }
  return out;
}

function entry(root: string, file: string): PackageEntry {
  const st = fs.statSync(file);
  return { name: path.relative(root, file).split(path.sep).join('/'), source: file, size: st.size, mode: st.mode };
}

/** Everything the package holds, computed from the checkout (needs `npm run build` first). */
export function packageContents(root = repoRoot()): PackageContents {
  const entries: PackageEntry[] = [];
  for (const f of ['host.json', 'package.json']) entries.push(entry(root, path.join(root, f)));

  for (const dir of APP_SOURCE_DIRS) {
    for (const src of walk(path.join(root, dir), false)) {
      if (!src.endsWith('.ts') || src.endsWith('.d.ts')) continue;
      const js = path.join(root, 'dist', path.relative(root, src)).replace(/\.ts$/, '.js');
      if (!fs.existsSync(js)) throw new Error(`${path.relative(root, js)} is missing: run npm run build`);
      entries.push(entry(root, js));
      if (fs.existsSync(`${js}.map`)) entries.push(entry(root, `${js}.map`));
    }
  }

  const dashboard = path.join(root, 'dist', DASHBOARD_DIR);
  const manifest = path.join(dashboard, 'manifest.json');
  if (!fs.existsSync(manifest)) throw new Error(`${path.relative(root, manifest)} is missing: run npm run build`);
  entries.push(entry(root, manifest));
  for (const f of (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { files: string[] }).files)
    entries.push(entry(root, path.join(dashboard, f)));

  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockPackage>;
  };
  const packages: string[] = [];
  const omitted: Record<string, number> = {};
  for (const [pkg, meta] of Object.entries(lock.packages)) {
    if (!pkg || meta.dev || meta.link) continue;
    const dir = path.join(root, pkg);
    if (!fs.existsSync(dir)) continue; // an optional package for another platform
    packages.push(pkg);
    for (const file of walk(dir, true)) {
      const reason = omitReason(pkg, path.relative(dir, file).split(path.sep).join('/'));
      if (reason) omitted[reason] = (omitted[reason] ?? 0) + 1;
      else entries.push(entry(root, file));
    }
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { entries, packages: packages.sort(), omitted };
}

/** Writes the entries to a zip file (deflated, sorted as given, fixed timestamps). */
export async function writeZip(entries: readonly PackageEntry[], zipPath: string): Promise<number> {
  fs.mkdirSync(path.dirname(zipPath), { recursive: true });
  const zip = new ZipFile();
  const tmp = `${zipPath}.partial`;
  const out = fs.createWriteStream(tmp);
  const done = new Promise<void>((resolve, reject) => {
    out.on('close', resolve);
    out.on('error', reject);
    zip.outputStream.on('error', reject);
  });
  zip.outputStream.pipe(out);
  for (const e of entries) zip.addFile(e.source, e.name, { mtime: ZIP_TIME, mode: e.mode, compress: true });
  zip.end();
  await done;
  fs.renameSync(tmp, zipPath); // never leave a half-written zip under the final name
  return fs.statSync(zipPath).size;
}

export function checkPlatform(p: { platform: string; arch: string } = process): void {
  if (p.platform !== TARGET.platform || p.arch !== TARGET.arch) {
    throw new Error(
      `npm run package must run on ${TARGET.platform}-${TARGET.arch} (got ${p.platform}-${p.arch}): Azure Functions on Linux runs x64, ` +
        'and the native packages in node_modules (DuckDB, onnxruntime) are installed for the machine npm ran on. Run it in WSL, a Linux container or CI.',
    );
  }
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  checkPlatform();
  const root = repoRoot();
  const outArg = process.argv.indexOf('--out');
  const zipPath = path.resolve(outArg > 0 ? process.argv[outArg + 1]! : path.join(root, 'artifacts', 'strata.zip'));
  const c = packageContents(root);
  const appFiles = c.entries.filter((e) => !e.name.startsWith('node_modules/')).length;
  const raw = c.entries.reduce((a, e) => a + e.size, 0);
  const size = await writeZip(c.entries, zipPath);
  const omitted = Object.entries(c.omitted)
    .map(([r, n]) => `${n} ${r}`)
    .join(', ');
  console.log(`${path.relative(process.cwd(), zipPath)}: ${mb(size)} (${mb(raw)} unpacked)`);
  console.log(
    `  ${appFiles} app files, ${c.entries.length - appFiles} files of ${c.packages.length} production packages; left out: ${omitted || 'nothing'}`,
  );
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
