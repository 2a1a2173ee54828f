/**
 * The deployment package (`npm run package`): what it holds is the compiled app and the
 * production dependencies, nothing of the local host, tests, benchmarks or dev packages; the
 * app loads from those files alone; the zip holds exactly the files given, deterministically.
 * The whole 50 MB zip is not built here (about 20 s on 2 cores): its file list is, and a
 * zip of the app part goes through the same writer and is read back.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import {
  APP_SOURCE_DIRS,
  checkPlatform,
  omitReason,
  packageContents,
  PackageEntry,
  writeZip,
} from '../../scripts/package-app';

const ROOT = path.resolve(__dirname, '..', '..');
const contents = packageContents(ROOT);
const names = contents.entries.map((e) => e.name);
const nameSet = new Set(names);
// Thousands of small links: on a RAM file system (where there is one) that takes 0.2 s instead of seconds.
const scratch = fs.existsSync('/dev/shm') && fs.statSync('/dev/shm').isDirectory() ? '/dev/shm' : os.tmpdir();
const tmp = fs.mkdtempSync(path.join(scratch, 'strata-package-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  main: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** The lock entry a file inside node_modules belongs to (the deepest `node_modules/<name>`). */
function packageOf(name: string): string {
  const m = /^(.*node_modules\/(@[^/]+\/)?[^/]+)\//.exec(name);
  return m ? m[1]! : '';
}

/** Links the given entries into a fresh folder, as the Functions host would see the unzipped package. */
function stage(dir: string, entries: readonly PackageEntry[]): void {
  const made = new Set<string>();
  for (const e of entries) {
    const to = path.join(dir, e.name);
    const parent = path.dirname(to);
    if (!made.has(parent)) {
      fs.mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    fs.symlinkSync(e.source, to);
  }
}

/** The package's files linked into one folder, staged once for the load checks. */
const staged = path.join(tmp, 'staged');
let isStaged = false;
function stagedPackage(): string {
  if (!isStaged) stage(staged, contents.entries);
  isStaged = true;
  return staged;
}

/** Runs code in `dir` resolving modules from the staged links only (not from the checkout behind them). */
function runIn(dir: string, code: string) {
  return spawnSync(process.execPath, ['--preserve-symlinks', '--preserve-symlinks-main', '-e', code], {
    cwd: dir,
    env: { PATH: process.env.PATH, STRATA_LOG_LEVEL: 'error' },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

function readZip(file: string): Promise<Array<{ name: string; data: Buffer; mtime: Date }>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const out: Array<{ name: string; data: Buffer; mtime: Date }> = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.push({ name: entry.fileName, data: Buffer.concat(chunks), mtime: entry.getLastModDate() });
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

describe('npm run package: the contents', () => {
  it('holds host.json, package.json (whose main it contains) and the compiled output of every app source', () => {
    expect(names).toContain('host.json');
    expect(names).toContain('package.json');
    expect(names).toContain(pkg.main);
    let sources = 0;
    const walk = (dir: string) => {
      for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, d.name);
        if (d.isDirectory()) walk(full);
        else if (d.name.endsWith('.ts') && !d.name.endsWith('.d.ts')) {
          sources++;
          expect(names).toContain(
            `dist/${path.relative(ROOT, full).split(path.sep).join('/').replace(/\.ts$/, '.js')}`,
          );
        }
      }
    };
    for (const dir of APP_SOURCE_DIRS) walk(path.join(ROOT, dir));
    const appJs = names.filter((n) => n.startsWith('dist/') && !n.startsWith('dist/dashboard/') && n.endsWith('.js'));
    expect(appJs).toHaveLength(sources);
  });

  it('holds the built dashboard: every file its manifest lists, and the manifest', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'dist/dashboard/manifest.json'), 'utf8')) as {
      files: string[];
    };
    expect(manifest.files).toContain('index.html');
    for (const f of ['manifest.json', ...manifest.files]) expect(names).toContain(`dist/dashboard/${f}`);
  });

  it('leaves out the local host, test fixtures, benchmarks and these scripts', () => {
    for (const n of names) {
      if (n.startsWith('node_modules/')) continue;
      expect(n).toMatch(
        /^(host\.json|package\.json|dist\/(functions|orchestrations|shared)\/.+\.js(\.map)?|dist\/dashboard\/(index\.html|manifest\.json|assets\/app-[A-Z0-9]+\.(js|css)))$/,
      );
    }
    for (const dir of ['dist/local/', 'dist/test/', 'dist/bench/', 'dist/scripts/'])
      expect(
        names.some((n) => n.startsWith(dir)),
        dir,
      ).toBe(false);
  });

  it('holds every production dependency and no package the lock marks dev (azurite, vitest, typescript, ...)', () => {
    for (const dep of Object.keys(pkg.dependencies))
      expect(nameSet.has(`node_modules/${dep}/package.json`), dep).toBe(true);
    // A devDependency a production package also depends on (protobufjs -> @types/node) is production in the lock.
    for (const dev of ['azurite', 'vitest', 'typescript', 'yazl'])
      expect(lock.packages[`node_modules/${dev}`]?.dev, dev).toBe(true);
    for (const dev of Object.keys(pkg.devDependencies)) {
      if (lock.packages[`node_modules/${dev}`]?.dev)
        expect(
          names.some((n) => n.startsWith(`node_modules/${dev}/`)),
          dev,
        ).toBe(false);
    }
    expect(pkg.devDependencies.azurite).toBeDefined();
    expect(pkg.dependencies.azurite).toBeUndefined();
    for (const n of names) {
      if (!n.startsWith('node_modules/')) continue;
      const p = packageOf(n);
      expect(lock.packages[p], `${n}: no lock entry ${p}`).toBeDefined();
      expect(lock.packages[p]!.dev, `${n} belongs to the dev package ${p}`).toBeUndefined();
    }
  });

  it('keeps only the linux-x64 native binaries, and no type declarations, source maps of dependencies or .bin links', () => {
    expect(
      names.some((n) =>
        /^node_modules\/onnxruntime-node\/bin\/napi-v\d+\/linux\/x64\/onnxruntime_binding\.node$/.test(n),
      ),
    ).toBe(true);
    expect(names.some((n) => /^node_modules\/@duckdb\/node-bindings-linux-x64\/.+\.node$/.test(n))).toBe(true);
    expect(names.filter((n) => /onnxruntime-node\/bin\/napi-v\d+\/(darwin|win32|linux\/arm64)\//.test(n))).toEqual([]);
    expect(names.filter((n) => n.startsWith('node_modules/') && /\.d\.[cm]?ts$|\.map$|\/\.bin\//.test(n))).toEqual([]);
    expect(contents.omitted['onnxruntime-node binaries of other platforms']).toBeGreaterThan(0);
    expect(omitReason('node_modules/onnxruntime-node', 'bin/napi-v6/linux/x64/libonnxruntime.so.1')).toBeUndefined();
    expect(omitReason('node_modules/onnxruntime-node', 'bin/napi-v6/darwin/arm64/libonnxruntime.dylib')).toBe(
      'onnxruntime-node binaries of other platforms',
    );
    expect(omitReason('node_modules/zod', 'index.d.cts')).toBe('type declarations');
    expect(omitReason('node_modules/zod', 'index.js')).toBeUndefined();
  });

  it('the app and its native packages load from the package files alone', () => {
    const r = runIn(
      stagedPackage(),
      `require('./${pkg.main}'); require('onnxruntime-node'); require('@duckdb/node-api'); console.log('loaded')`,
    );
    expect(r.stderr).not.toMatch(/Cannot find module|Error:/);
    expect(r.stdout.trim().split('\n').pop()).toBe('loaded');
    expect(r.status).toBe(0);
  });

  it("(control) the same load fails when a dependency is missing, so the check above cannot pass on the checkout's node_modules", () => {
    const dir = stagedPackage();
    const hidden = path.join(dir, 'node_modules', '@azure', 'functions.hidden');
    fs.renameSync(path.join(dir, 'node_modules', '@azure', 'functions'), hidden);
    let r: ReturnType<typeof runIn>;
    try {
      r = runIn(dir, `require('./${pkg.main}')`);
    } finally {
      fs.renameSync(hidden, path.join(dir, 'node_modules', '@azure', 'functions'));
    }
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot find module '@azure\/functions'/);
  });

  it('refuses to package on another platform than linux-x64, saying why', () => {
    expect(() => checkPlatform({ platform: 'darwin', arch: 'arm64' })).toThrow(
      /must run on linux-x64 \(got darwin-arm64\).*native packages/,
    );
    expect(() => checkPlatform({ platform: 'linux', arch: 'x64' })).not.toThrow();
  });
});

describe('npm run package: the zip', () => {
  const appEntries = contents.entries.filter((e) => !e.name.startsWith('node_modules/'));

  it('holds exactly the given files, in order, with their bytes, and one fixed timestamp', async () => {
    const file = path.join(tmp, 'app.zip');
    const size = await writeZip(appEntries, file);
    expect(size).toBe(fs.statSync(file).size);
    expect(fs.existsSync(`${file}.partial`)).toBe(false);
    const read = await readZip(file);
    expect(read.map((r) => r.name)).toEqual(appEntries.map((e) => e.name));
    for (const [i, r] of read.entries())
      expect(r.data.equals(fs.readFileSync(appEntries[i]!.source)), r.name).toBe(true);
    expect(new Set(read.map((r) => r.mtime.getFullYear()))).toEqual(new Set([1980]));
  });

  it('is the same bytes when built twice', async () => {
    const hash = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    const a = path.join(tmp, 'a.zip');
    const b = path.join(tmp, 'b.zip');
    await writeZip(appEntries, a);
    await writeZip(appEntries, b);
    expect(hash(a)).toBe(hash(b));
  });
});
