/**
 * Open Inference Protocol, server level (anonymous, like /api/health, so probes need no key):
 *   GET /api/v2/health/live    200 {"live": true} while the app answers
 *   GET /api/v2/health/ready   200 {"ready": true} when Blob, Table and the online store answer; 503 else
 *   GET /api/v2                server metadata {name, version, extensions}
 * On the local host /v2/... redirects here (307); on Azure see README "Open Inference Protocol".
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { oipHandled, openInference } from './oip-http';

export const oipServerLive = oipHandled(async function oipServerLive() {
  return { jsonBody: { live: true } };
});

app.http('oip-server-live', {
  methods: ['GET'],
  route: 'v2/health/live',
  authLevel: 'anonymous',
  handler: oipServerLive,
});

export const oipServerReady = oipHandled(async function oipServerReady() {
  const report = await platform().health();
  if (report.status === 'ok') return { jsonBody: { ready: true } };
  const down = Object.entries(report.dependencies)
    .filter(([, d]) => !d.ok)
    .map(([name, d]) => `${name} (${d.error ?? 'down'})`);
  return { status: 503, jsonBody: { error: `not ready: ${down.join(', ')} unreachable` } };
});

app.http('oip-server-ready', {
  methods: ['GET'],
  route: 'v2/health/ready',
  authLevel: 'anonymous',
  handler: oipServerReady,
});

export const oipServerMetadata = oipHandled(async function oipServerMetadata() {
  return { jsonBody: openInference().serverMetadata() };
});

app.http('oip-server-metadata', {
  methods: ['GET'],
  route: 'v2',
  authLevel: 'anonymous',
  handler: oipServerMetadata,
});
