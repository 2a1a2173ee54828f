/**
 * The dashboard's static file server: ETags per representation, 304 on a match, gzip when
 * asked for, year-long caching only for content-hashed assets, and clear 404/405/unbuilt.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { DashboardAssets } from '../../shared/dashboard/assets';
import { tempDir } from '../helpers/temp';

const tmp = tempDir('strata-assets-');
afterAll(() => tmp.cleanup());
const script = `console.log(${JSON.stringify('x'.repeat(4000))});`;
fs.mkdirSync(path.join(tmp.dir, 'assets'));
fs.writeFileSync(path.join(tmp.dir, 'index.html'), '<!doctype html><title>t</title>');
fs.writeFileSync(path.join(tmp.dir, 'assets', 'app-ABC.js'), script);
fs.writeFileSync(
  path.join(tmp.dir, 'manifest.json'),
  JSON.stringify({ index: 'index.html', files: ['index.html', 'assets/app-ABC.js'] }),
);
const assets = DashboardAssets.load(tmp.dir);
const get = (p: string, extra: Partial<Parameters<DashboardAssets['serve']>[0]> = {}) =>
  assets.serve({ path: p, method: 'GET', ...extra });

describe('dashboard assets', () => {
  it('serves the page for the root path, revalidated by ETag (no-cache), 304 when the ETag matches', () => {
    const r = get('');
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(String(r.body)).toContain('<title>t</title>');
    expect(get('', { ifNoneMatch: r.headers.etag }).status).toBe(304);
    expect(get('', { ifNoneMatch: `W/${r.headers.etag}, "other"` }).status).toBe(304);
    expect(get('', { ifNoneMatch: '"other"' }).status).toBe(200);
  });

  it('caches hashed assets for a year and gzips them when the client accepts it, with a distinct ETag', () => {
    const plain = get('assets/app-ABC.js');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(Buffer.from(plain.body as Uint8Array).toString()).toBe(script);
    const gz = get('assets/app-ABC.js', { acceptEncoding: 'br, gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(zlib.gunzipSync(gz.body as Uint8Array).toString()).toBe(script);
    expect(Number(gz.headers['content-length'])).toBe((gz.body as Uint8Array).length);
    expect(gz.headers.etag).not.toBe(plain.headers.etag);
    expect(get('assets/app-ABC.js', { acceptEncoding: 'gzip', ifNoneMatch: plain.headers.etag }).status).toBe(200);
  });

  it('answers HEAD without a body, 404 for unknown files, 405 for other methods', () => {
    const head = assets.serve({ path: 'assets/app-ABC.js', method: 'HEAD' });
    expect([head.status, head.body, head.headers['content-length']]).toEqual([200, undefined, String(script.length)]);
    expect(get('assets/nope.js').status).toBe(404);
    expect(assets.serve({ path: '', method: 'POST' })).toMatchObject({ status: 405, headers: { allow: 'GET, HEAD' } });
  });

  it('says how to build when the folder was never built', () => {
    expect(() => DashboardAssets.load(path.join(tmp.dir, 'missing'))).toThrow(/npm run build/);
  });
});
