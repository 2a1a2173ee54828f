import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { handled } from './http';

export const healthHandler = handled(async function healthHandler() {
  const report = await platform().health();
  return { status: report.status === 'ok' ? 200 : 503, jsonBody: report };
});

app.http('health', {
  methods: ['GET'],
  route: 'health',
  authLevel: 'anonymous',
  handler: healthHandler,
});
