/**
 * What the host loads and how it is configured, as the Node worker and `func start` decide it:
 * entry point globs in a stable order, and local.settings.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageMain, resolveEntryPoints } from '../../local/app/entry-points';
import { applySettingValues, readLocalSettings } from '../../local/app/local-settings';
import { StartupError } from '../../local/errors';
import { tempDir } from '../helpers/temp';

const tmp = tempDir('app-files-');
afterAll(() => tmp.cleanup());

function app(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp.dir, name);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}
const rel = (dir: string, files: string[]) => files.map((f) => path.relative(dir, f));

describe('entry points', () => {
  // Created in an order that is not the name order, so a directory listing is not already sorted.
  const dir = app('globs', {
    'dist/src/functions/orders.js': '',
    'dist/src/functions/a-first.js': '',
    'dist/src/index.js': '',
    'dist/src/functions/zeta.js': '',
    'dist/src/functions/orders.js.map': '',
    'dist/src/functions/nested/deep.js': '',
  });

  it("loads every match of package.json main's glob, in name order", () => {
    expect(rel(dir, resolveEntryPoints('dist/src/functions/*.js', dir))).toEqual([
      'dist/src/functions/a-first.js',
      'dist/src/functions/orders.js',
      'dist/src/functions/zeta.js',
    ]);
  });

  it('keeps the order the pattern gives: {index.js,functions/*.js} loads index.js first', () => {
    expect(rel(dir, resolveEntryPoints('dist/src/{index.js,functions/*.js}', dir))).toEqual([
      'dist/src/index.js',
      'dist/src/functions/a-first.js',
      'dist/src/functions/orders.js',
      'dist/src/functions/zeta.js',
    ]);
    expect(rel(dir, resolveEntryPoints('./dist/src/functions/**/*.js', dir))).toContain(
      'dist/src/functions/nested/deep.js',
    );
  });

  it("says what is wrong with the worker's wording, and hints at the build", () => {
    expect(() => resolveEntryPoints('dist/src/nothing/*.js', dir)).toThrow(
      /Found zero files matching the supplied pattern/,
    );
    expect(() => resolveEntryPoints('dist/src/missing.js', dir)).toThrow(
      /"dist\/src\/missing.js" .*File does not exist/,
    );
    const unbuilt = app('unbuilt', { 'package.json': '{}' });
    expect(() => resolveEntryPoints('dist/src/functions/*.js', unbuilt)).toThrow(
      /there is no dist\/ folder: build the app first/,
    );
  });

  it('reads package.json main, and refuses a main that is not a string', () => {
    expect(packageMain(app('pkg', { 'package.json': '{"main":"dist/src/{index.js,functions/*.js}"}' }))).toBe(
      'dist/src/{index.js,functions/*.js}',
    );
    expect(packageMain(app('nomain', { 'package.json': '{"name":"x"}' }))).toBeUndefined();
    expect(() => packageMain(app('badmain', { 'package.json': '{"main":3}' }))).toThrow(StartupError);
  });
});

describe('local.settings.json', () => {
  it('reads Values, Host.LocalHttpPort and Host.CORS', () => {
    const dir = app('settings', {
      'local.settings.json': JSON.stringify({
        IsEncrypted: false,
        Values: { A: 'x', N: 3, E: '', Z: null },
        Host: { LocalHttpPort: 7123, CORS: 'http://a.test, http://b.test', CORSCredentials: true },
        ConnectionStrings: {},
      }),
    });
    const s = readLocalSettings(dir);
    expect(s).toMatchObject({
      values: { A: 'x', N: '3', E: '', Z: null },
      localHttpPort: 7123,
      cors: { origins: ['http://a.test', 'http://b.test'], credentials: true },
    });
  });

  it('copies Values into the environment without overriding what is set, with the lines Core Tools prints', () => {
    const env: NodeJS.ProcessEnv = { SET: 'mine', EMPTY: '' };
    const notes = applySettingValues({ SET: 'theirs', EMPTY: 'filled', NEW: 'v', BLANK: '', GONE: null }, env);
    expect(env).toEqual({ SET: 'mine', EMPTY: 'filled', NEW: 'v', BLANK: '' });
    expect(notes).toEqual([
      "Skipping 'SET' from local settings as it's already defined in current environment variables.",
      "Skipping 'GONE' because value is null",
    ]);
  });

  it('no file is no error; a malformed or encrypted one stops the start naming the file and field', () => {
    expect(readLocalSettings(app('none', {}))).toMatchObject({ file: undefined, values: {} });
    expect(() => readLocalSettings(app('badjson', { 'local.settings.json': '{ nope' }))).toThrow(
      /local.settings.json is not valid JSON/,
    );
    expect(() =>
      readLocalSettings(app('badport', { 'local.settings.json': '{"Host":{"LocalHttpPort":"x"}}' })),
    ).toThrow(/Host.LocalHttpPort/);
    expect(() => readLocalSettings(app('obj', { 'local.settings.json': '{"Values":{"A":{"b":1}}}' }))).toThrow(
      /Values.A/,
    );
    expect(() => readLocalSettings(app('enc', { 'local.settings.json': '{"IsEncrypted":true,"Values":{}}' }))).toThrow(
      /encrypted/,
    );
  });
});
