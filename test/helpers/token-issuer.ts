/**
 * A stand-in for the one part of Azure a test cannot run: the managed identity token endpoint.
 * It speaks the App Service / Azure Functions managed identity protocol (api-version 2019-08-01:
 * GET IDENTITY_ENDPOINT?resource=...&client_id=... with the X-IDENTITY-HEADER secret, answered
 * with { access_token, expires_on, resource, token_type, client_id }), the protocol
 * @azure/identity's ManagedIdentityCredential uses on Azure Functions when the platform sets
 * IDENTITY_ENDPOINT and IDENTITY_HEADER. Everything around it in a test is real: the SDK
 * clients, the credential and its cache, and Azurite (`--oauth basic`), which checks each
 * token's issuer, audience and lifetime.
 *
 * Tokens are JWTs signed with a key made here (RS256 with node:crypto: a JWT is three base64url
 * parts, too small a format to need a library); Azurite does not check signatures. The token's
 * audience is the requested resource unless `audience` is set (to prove Azurite refuses a
 * token meant for another service). Every request is recorded, and `onIssue` hears of each token
 * before it is handed out (the Redis test registers it as the principal's password, as Azure
 * Managed Redis accepts any valid token of a principal it knows).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const TENANT_ID = '0d4c7d6e-0000-4000-8000-00000000a7e1';
export const OBJECT_ID = '2f1d6c3a-0000-4000-8000-000000000b1d';

export interface TokenRequest {
  resource: string | undefined;
  clientId: string | undefined;
  apiVersion: string | undefined;
  /** Whether the X-IDENTITY-HEADER secret matched. */
  authorized: boolean;
}

export interface TokenIssuer {
  /** IDENTITY_ENDPOINT */
  readonly url: string;
  /** IDENTITY_HEADER */
  readonly secret: string;
  readonly requests: TokenRequest[];
  /** Issue tokens for this audience instead of the requested resource (undefined: the resource). */
  audience: string | undefined;
  /** Lifetime of each token, seconds. */
  lifetimeSeconds: number;
  /** Told of each token before it is handed out (a test registers it where it will be checked). */
  onIssue: ((token: string, request: TokenRequest) => Promise<void>) | undefined;
  close(): Promise<void>;
}

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const b64url = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

export function signedJwt(claims: Record<string, unknown>): string {
  const head = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${head}.${crypto.sign('sha256', Buffer.from(head), privateKey).toString('base64url')}`;
}

export async function startTokenIssuer(): Promise<TokenIssuer> {
  const secret = crypto.randomBytes(16).toString('hex');
  const requests: TokenRequest[] = [];
  const issuer: Omit<TokenIssuer, 'url' | 'close'> = {
    secret,
    requests,
    audience: undefined,
    lifetimeSeconds: 3600,
    onIssue: undefined,
  };
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const q = new URL(req.url ?? '/', 'http://issuer').searchParams;
    const r: TokenRequest = {
      resource: q.get('resource') ?? undefined,
      clientId: q.get('client_id') ?? undefined,
      apiVersion: q.get('api-version') ?? undefined,
      authorized: req.headers['x-identity-header'] === secret,
    };
    requests.push(r);
    const send = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!r.authorized) return send(401, { statusCode: 401, message: 'X-IDENTITY-HEADER is missing or wrong' });
    if (!r.resource) return send(400, { statusCode: 400, message: 'resource is required' });
    const now = Math.floor(Date.now() / 1000);
    const exp = now + issuer.lifetimeSeconds;
    const token = signedJwt({
      aud: issuer.audience ?? r.resource,
      iss: `https://sts.windows.net/${TENANT_ID}/`,
      iat: now - 5,
      nbf: now - 5,
      exp,
      oid: OBJECT_ID,
      sub: OBJECT_ID,
      tid: TENANT_ID,
      appid: r.clientId ?? 'system-assigned',
      idtyp: 'app',
      ver: '1.0',
    });
    try {
      await issuer.onIssue?.(token, r);
    } catch (e) {
      return send(500, { statusCode: 500, message: (e as Error).message });
    }
    return send(200, {
      access_token: token,
      expires_on: String(exp),
      resource: r.resource,
      token_type: 'Bearer',
      client_id: r.clientId ?? 'system-assigned',
    });
  };
  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(e.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(issuer, {
    url: `http://127.0.0.1:${port}/msi/token`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
