/**
 * The dashboard's static files (built by scripts/build-dashboard.mjs into dist/dashboard/),
 * served by the Function App itself so the page works offline and needs no CDN or storage
 * website. Files are read once per process and kept in memory with their ETag and, for text,
 * a gzip copy (compressed once at load: a few ms for ~100 KiB, so every request is a lookup).
 *
 * Caching: the script and stylesheet have content-hashed names (assets/app-<hash>.js), so they
 * are `immutable` for a year; index.html is `no-cache` (revalidated by ETag: 304 when
 * unchanged), so a new build is picked up on the next load. Headers also keep the key a
 * visitor passes as ?code= from leaking (Referrer-Policy) and the page from being framed.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';

export interface AssetRequest {
  /** Path below the dashboard root ('' and 'index.html' are the page). */
  path: string;
  method: string;
  ifNoneMatch?: string | null;
  acceptEncoding?: string | null;
}

export interface AssetResponse {
  status: number;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  etag: string;
  contentType: string;
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

export class DashboardAssets {
  private constructor(
    private readonly files: Map<string, Asset>,
    private readonly index: string,
  ) {}

  /** Load the build output folder (its manifest.json lists the files); throws if it was never built. */
  static load(dir: string): DashboardAssets {
    const manifestPath = path.join(dir, 'manifest.json');
    if (!fs.existsSync(manifestPath))
      throw new Error(`the dashboard is not built (no ${manifestPath}); run npm run build`);
    const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as { index: string; files: string[] };
    const files = new Map<string, Asset>();
    for (const name of manifest.files) {
      const body = fs.readFileSync(path.join(dir, name));
      const contentType = TYPES[path.extname(name)] ?? 'application/octet-stream';
      const text = /^text\/|json|svg/.test(contentType);
      files.set(name, {
        body,
        ...(text && body.length > 1024 ? { gzip: zlib.gzipSync(body, { level: 9 }) } : {}),
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        contentType,
        immutable: name.startsWith('assets/'),
      });
    }
    return new DashboardAssets(files, manifest.index);
  }

  serve(req: AssetRequest): AssetResponse {
    const method = req.method.toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') return { status: 405, headers: { allow: 'GET, HEAD' } };
    const name = req.path.replace(/^\/+/, '') || this.index;
    const asset = this.files.get(name);
    if (!asset)
      return {
        status: 404,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: `no dashboard file "${name}"`,
      };
    // Each representation has its own strong ETag (Vary: Accept-Encoding).
    const gzip = asset.gzip !== undefined && /\bgzip\b/i.test(req.acceptEncoding ?? '');
    const etag = gzip ? `${asset.etag.slice(0, -1)}-gz"` : asset.etag;
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      'content-type': asset.contentType,
      'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag,
      vary: 'Accept-Encoding',
    };
    if (req.ifNoneMatch && req.ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag))
      return { status: 304, headers };
    const body = gzip ? asset.gzip! : asset.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    return { status: 200, headers, ...(method === 'GET' ? { body } : {}) };
  }
}
