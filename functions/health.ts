import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { checkHealth } from '../shared/health';
import { handled } from './http';
import { APP_VERSION } from '../shared/version';

app.http('health', {
  methods: ['GET'],
  route: 'health',
  authLevel: 'anonymous',
  handler: handled(async () => {
    const p = platform();
    const report = await checkHealth({ storage: p.storage, online: p.online, appVersion: APP_VERSION });
    return { status: report.status === 'ok' ? 200 : 503, jsonBody: report };
  }),
});
