/**
 * A file dropped into the `uploads` container under `<source>/` is ingested like an HTTP upload.
 * Event Grid source: the only blob trigger Flex Consumption runs, and seconds instead of minutes
 * on any plan (infra/modules/upload-events.bicep subscribes it); the local host polls.
 */
import { app, InvocationContext } from '@azure/functions';
import { platform } from '../shared/platform';
import { ingestFile } from '../shared/features/ingest/file-ingest';

export async function ingestUploadBlob(blob: unknown, ctx: InvocationContext) {
  const p = platform();
  const meta = ctx.triggerMetadata as { source: string; name: string };
  const report = await ingestFile(await p.ingest(), p.repo, {
    source: meta.source,
    fileName: meta.name,
    bytes: blob as Buffer,
    jobId: ctx.invocationId,
  });
  p.ingestMetrics.observe(report);
  ctx.log(
    `uploads/${meta.source}/${meta.name}: ${report.accepted} accepted, ${report.rejected} rejected (${report.status})`,
  );
}

app.storageBlob('ingest-upload-blob', {
  path: 'uploads/{source}/{name}',
  connection: 'AzureWebJobsStorage',
  source: 'EventGrid',
  handler: ingestUploadBlob,
});
