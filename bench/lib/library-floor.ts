/**
 * The "library floor" for HTTP benchmarks: node:http handing each request straight to
 * @azure/functions' own invocation model (what Azure's worker does too), with no routing,
 * keys or other host features. It separates the library's cost from Strata's and the host's.
 */
import http from 'node:http';
import path from 'node:path';
import { functionsCore } from '../../local/functions-core';

export interface LibraryFloorOptions {
  /** Compiled app entry, and the HTTP function to call for every request. */
  entry: string;
  functionName: string;
  /** Route parameters the host would have filled from the path. */
  params?: (url: URL) => Record<string, string>;
  /** Answer some requests without the function (e.g. a sink's posts); true = handled. */
  intercept?: (url: URL, res: http.ServerResponse) => boolean;
}

export async function startLibraryFloor(port: number, o: LibraryFloorOptions): Promise<http.Server> {
  await functionsCore.loadEntry(o.entry);
  await functionsCore.finishStartup(path.dirname(o.entry));
  const fn = functionsCore.get(o.functionName);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://local');
      if (o.intercept?.(url, res)) return;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const out = await functionsCore.invoke(fn.id, {
        inputData: [
          {
            name: fn.triggerKey,
            data: {
              http: {
                method: req.method,
                url: `http://127.0.0.1${req.url}`,
                headers,
                query: Object.fromEntries(url.searchParams),
                params: o.params?.(url) ?? {},
                body: { bytes: Buffer.concat(chunks) },
              },
            },
          },
        ],
      });
      const h = out.returnValue!.http as {
        statusCode: string;
        headers: Record<string, string>;
        body: { bytes: Uint8Array };
      };
      res.writeHead(Number(h.statusCode), h.headers);
      res.end(Buffer.from(h.body.bytes));
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  process.stdout.write('ready\n');
  return server;
}
