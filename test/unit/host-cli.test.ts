/**
 * The command line's pure parts: strict argument parsing with the valid options listed, the help
 * text from the same table, one-line error text; the data-folder lock; CORS answers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { helpText, intOption, parseCommandArgs, SEND, START } from '../../local/cli/options';
import { errorText } from '../../local/cli/error-text';
import { StartupError } from '../../local/errors';
import { EntryPointLoadError } from '../../local/functions-core';
import { ConfigError } from '../../shared/errors';
import { LOCK_FILE, lockDataDir, lockHolders } from '../../local/processes/host-lock';
import { corsHeaders, preflightResponse } from '../../local/http/cors';
import { tempDir } from '../helpers/temp';

const tmp = tempDir('cli-');
afterAll(() => tmp.cleanup());

describe('arguments', () => {
  it('parses the start options and the send positional', () => {
    expect(
      parseCommandArgs(START, ['--entry', 'dist/src/functions/*.js', '--port=7072', '--cors-credentials']).values,
    ).toMatchObject({ entry: 'dist/src/functions/*.js', port: '7072', 'cors-credentials': true });
    expect(parseCommandArgs(SEND, ['clicks', '--file', 'e.jsonl']).positionals).toEqual(['clicks']);
  });

  it('an unknown option is an error listing the valid ones', () => {
    expect(() => parseCommandArgs(START, ['--prot', '1'])).toThrow(
      'unknown option --prot for "start"; valid options: --entry, --port, --data-dir, --partitions, --blob-poll-ms, --cors, --cors-credentials, --instances, --restart, --help, --version',
    );
    expect(() => parseCommandArgs(START, ['--port'])).toThrow('option --port needs a value');
    expect(() => parseCommandArgs(START, ['stray'])).toThrow(/unexpected argument "stray"/);
    expect(() => parseCommandArgs(SEND, ['a', 'b'])).toThrow(/unexpected argument "b"/);
  });

  it('numbers must be whole', () => {
    expect(intOption({ port: '8080' }, 'port')).toBe(8080);
    expect(() => intOption({ port: '80.5' }, 'port')).toThrow('--port must be a whole number, got "80.5"');
    expect(() => intOption({ partitions: '0' }, 'partitions', 1)).toThrow(/of at least 1/);
  });

  it('--help lists every option of the command from the same table', () => {
    const help = helpText(START);
    for (const o of Object.keys(START.options)) expect(help).toContain(`--${o}`);
    expect(help).toContain('send');
  });
});

describe('error text', () => {
  it("is one line for the user's mistakes, with the app's failing line for an entry point that throws", () => {
    expect(errorText(new StartupError('port 7071 is in use by another process'))).toBe(
      'strata: port 7071 is in use by another process',
    );
    // A bad configuration: one line per bad setting, no stack.
    expect(errorText(new ConfigError([{ where: 'REDIS_URL', problem: 'must start with redis://' }]))).toBe(
      'strata: Invalid configuration:\n  - REDIS_URL: must start with redis://',
    );
    const load = errorText(
      new EntryPointLoadError('/app/dist/src/functions/bad.js', new ReferenceError('x is not defined')),
    );
    expect(load).toMatch(
      /^strata: Worker was unable to load entry point "\/app\/dist\/src\/functions\/bad.js": x is not defined \(at .+\)$/,
    );
  });
  it('keeps the stack for a bug in the host', () => {
    expect(errorText(new TypeError('cannot read x'))).toMatch(/^strata: TypeError: cannot read x\n {4}at /);
  });
});

describe('data folder lock', () => {
  it("gives a second host on a folder the next slot while the first runs; a dead host's slot is taken back", async () => {
    const dir = path.join(tmp.dir, 'data');
    // A real other process holds slot 0.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, LOCK_FILE),
        JSON.stringify({ pid: other.pid, port: 7071, startedAt: '2024-01-01T00:00:00Z', entry: 'x' }),
      );
      const second = lockDataDir(dir, { port: 7072, entry: 'y' });
      expect(second.slot).toBe(1);
      expect(lockHolders(dir).map((h) => h.pid)).toEqual([other.pid]);
      second.release();
      expect(fs.existsSync(second.file)).toBe(false);
    } finally {
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
    }
    // The holder of slot 0 is gone: the next host takes slot 0 back.
    const lock = lockDataDir(dir, { port: 7072, entry: 'y' });
    expect(lock.slot).toBe(0);
    expect(JSON.parse(fs.readFileSync(lock.file, 'utf8'))).toMatchObject({ pid: process.pid, port: 7072 });
    lock.release();
    expect(fs.existsSync(lock.file)).toBe(false);
  });
});

describe('CORS', () => {
  const o = { origins: ['http://app.test'], credentials: false };
  it('allows listed origins only, and * for any', () => {
    expect(corsHeaders(o, { origin: 'http://app.test' })).toEqual({
      'access-control-allow-origin': 'http://app.test',
      vary: 'Origin',
    });
    expect(corsHeaders(o, { origin: 'http://evil.test' })).toBeUndefined();
    expect(corsHeaders({ origins: ['*'], credentials: false }, { origin: 'http://x' })).toEqual({
      'access-control-allow-origin': '*',
    });
    expect(corsHeaders({ origins: ['*'], credentials: true }, { origin: 'http://x' })).toMatchObject({
      'access-control-allow-origin': 'http://x',
      'access-control-allow-credentials': 'true',
    });
  });
  it('answers preflights with the asked method and headers', () => {
    expect(
      preflightResponse(o, 'OPTIONS', {
        origin: 'http://app.test',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'x-functions-key',
      }),
    ).toEqual({
      status: 204,
      headers: {
        'access-control-allow-origin': 'http://app.test',
        vary: 'Origin',
        'access-control-allow-methods': 'PUT',
        'access-control-allow-headers': 'x-functions-key',
      },
    });
    expect(preflightResponse(o, 'OPTIONS', { origin: 'http://app.test' })).toBeUndefined();
  });
});
