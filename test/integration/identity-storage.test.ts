/**
 * Identity-based storage, exercised for real: the settings infra/ deploys
 * (AzureWebJobsStorage__*ServiceUri + __credential=managedidentity + __clientId) make the app's
 * own storage path (loadConfig -> Storage -> client factory -> ManagedIdentityCredential) get a
 * token and read and write Blob, Table and Queue storage with it.
 *
 * Real: Azurite over https with `--oauth basic` (it refuses a bearer token with a wrong issuer,
 * audience or lifetime), a self-signed certificate made here (selfsigned) that the probe process
 * trusts through NODE_EXTRA_CA_CERTS, the Azure SDK clients, @azure/identity and MSAL with their
 * token cache. The stub: only the token issuer (test/helpers/token-issuer.ts), speaking the
 * managed identity protocol Azure Functions exposes through IDENTITY_ENDPOINT / IDENTITY_HEADER.
 *
 * The probe (test/fixtures/identity-storage-probe.ts, compiled by `npm run build`) runs in its own
 * process because Node reads extra trusted certificates only at start-up. Last, the whole app on
 * the local host (`npm start`'s dist/local/cli.js) with only these settings: it starts no
 * embedded Azurite, its health checks and a definitions apply reach this Azurite with tokens.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { AZURITE_ACCOUNT } from '../../shared/azure/connections';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer';
import { tempDir } from '../helpers/temp';
import { WAIT_MS } from '../helpers/wait';
import { ADMIN_KEY, startHostProcess } from '../helpers/host-process';
import { featureRepo } from '../../shared/definitions';

const ROOT = path.resolve(__dirname, '../..');
const PROBE = path.join(ROOT, 'dist/test/fixtures/identity-storage-probe.js');
const CLIENT_ID = '8c3f2a10-0000-4000-8000-0000000c11e7';
const tmp = tempDir('strata-identity-');
const certFile = path.join(tmp.dir, 'cert.pem');
const keyFile = path.join(tmp.dir, 'key.pem');
let azurite: AzuriteHandle;
let issuer: TokenIssuer;

beforeAll(async () => {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  fs.writeFileSync(certFile, pems.cert);
  fs.writeFileSync(keyFile, pems.private);
  [azurite, issuer] = await Promise.all([
    startAzurite({ location: path.join(tmp.dir, 'azurite'), tls: { certFile, keyFile }, oauth: true }),
    startTokenIssuer(),
  ]);
});

afterAll(async () => {
  await Promise.all([azurite?.stop(), issuer?.close()]);
  tmp.cleanup();
});

/** The identity-based settings, with Azurite's https endpoints as the service URIs. */
function identitySettings(): Record<string, string> {
  const uri = (port: number) => `https://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    AzureWebJobsStorage__blobServiceUri: uri(azurite.ports.blob),
    AzureWebJobsStorage__queueServiceUri: uri(azurite.ports.queue),
    AzureWebJobsStorage__tableServiceUri: uri(azurite.ports.table),
    AzureWebJobsStorage__credential: 'managedidentity',
    AzureWebJobsStorage__clientId: CLIENT_ID,
    // What Azure Functions sets on every instance with a managed identity.
    IDENTITY_ENDPOINT: issuer.url,
    IDENTITY_HEADER: issuer.secret,
  };
}

/** Run the probe with exactly these settings (nothing inherited that could name other storage). */
function probe(
  args: string[],
  settings: Record<string, string>,
): Promise<{ code: number | null; out: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PROBE, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_EXTRA_CA_CERTS: certFile,
        NO_PROXY: '127.0.0.1,localhost',
        ...settings,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve({ code, out: JSON.parse(line) as Record<string, unknown> });
      } catch {
        reject(new Error(`the probe (exit ${code}) printed no JSON within ${WAIT_MS} ms: ${stdout}\n${stderr}`));
      }
    });
  });
}

describe('identity-based storage against Azurite with OAuth', () => {
  it('reads and writes Blob, Table and Queue storage with a managed identity token, for the configured client id', async () => {
    const before = issuer.requests.length;
    const w = await probe(['write', 'signed in with a token'], identitySettings());
    expect(w).toEqual({
      code: 0,
      out: {
        storage: expect.stringMatching(
          /^AzureWebJobsStorage via managed identity 8c3f2a10-0000-4000-8000-0000000c11e7 \(https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1/,
        ),
        wrote: 'signed in with a token',
      },
    });
    const asked = issuer.requests.slice(before);
    // One token for the storage audience, cached by the credential for all three services.
    expect(asked).toEqual([
      { resource: 'https://storage.azure.com', clientId: CLIENT_ID, apiVersion: '2019-08-01', authorized: true },
    ]);

    const r = await probe(['read'], identitySettings());
    expect(r).toMatchObject({
      code: 0,
      out: { blob: 'signed in with a token', entity: 'signed in with a token', message: 'signed in with a token' },
    });
  });

  it('the data is in this Azurite: a shared-key client on its https endpoints reads what the token wrote', async () => {
    await probe(['write', 'where did it go'], identitySettings());
    const r = await probe(['read'], { AzureWebJobsStorage: azurite.connectionString });
    expect(r.out).toMatchObject({
      storage: expect.stringMatching(/^AzureWebJobsStorage local connection string \(https:\/\/127\.0\.0\.1:/),
      blob: 'where did it go',
      entity: 'where did it go',
    });
  });

  it('Azurite checks the token: one issued for another audience is refused', async () => {
    issuer.audience = 'https://vault.azure.net';
    try {
      const r = await probe(['write', 'refused'], identitySettings());
      expect(r.code).toBe(1);
      // Azurite answers its generic 403 (its log says "Invalid token audience"); the same probe with the right audience passes above.
      expect(String(r.out.error)).toMatch(/^403 AuthenticationFailed Server failed to authenticate the request/);
    } finally {
      issuer.audience = undefined;
    }
  });

  it('without the platform identity endpoint the credential fails, naming ManagedIdentityCredential: no unsigned or key-based fallback', async () => {
    const { IDENTITY_ENDPOINT: _e, IDENTITY_HEADER: _h, ...settings } = identitySettings();
    // IMDS is the managed identity source left; point it at a closed port so the attempt ends quickly.
    const r = await probe(['write', 'no identity'], {
      ...settings,
      AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:9',
    });
    expect(r.code).toBe(1);
    expect(String(r.out.error)).toMatch(/ManagedIdentityCredential/);
  });
});

describe('the app on the local host with identity-based storage only', () => {
  it('starts no Azurite of its own, and serves health and writes through the token', async () => {
    const before = issuer.requests.length;
    const host = await startHostProcess({
      entry: path.join(ROOT, 'dist/functions/index.js'),
      dataDir: path.join(tmp.dir, 'host-data'),
      env: { ...identitySettings(), NODE_EXTRA_CA_CERTS: certFile },
    });
    try {
      expect(host.output()).toMatch(
        /storage: AzureWebJobsStorage via managed identity 8c3f2a10-0000-4000-8000-0000000c11e7 \(https:\/\/127\.0\.0\.1:/,
      );
      expect(host.output()).not.toMatch(/embedded Azurite/);
      const health = await fetch(`${host.baseUrl}/api/health`);
      const body = (await health.json()) as { dependencies: Record<string, { ok: boolean }> };
      expect(body.dependencies.blob!.ok).toBe(true);
      expect(body.dependencies.table!.ok).toBe(true);
      const applied = await fetch(`${host.baseUrl}/api/definitions/apply`, {
        method: 'POST',
        headers: { 'x-functions-key': ADMIN_KEY },
      });
      expect(applied.status).toBe(200);
      expect(await applied.json()).toMatchObject({ created: featureRepo.definitions().length });
      // The host's own credential asked the issuer (the app and the host share it in one process).
      expect(
        issuer.requests
          .slice(before)
          .every((r) => r.resource === 'https://storage.azure.com' && r.clientId === CLIENT_ID),
      ).toBe(true);
      expect(issuer.requests.length).toBeGreaterThan(before);
    } finally {
      await host.stop();
    }
  });
});
