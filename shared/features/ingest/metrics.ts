/**
 * Ingest counters in Prometheus form (prom-client, own registry): records accepted, rejected
 * (dead-lettered) and late per source, feature rows per view, batches per outcome. Counters
 * only, so totals from many instances add up. Served with serving's metrics on /api/metrics.
 */
import { Counter, Registry } from 'prom-client';
import type { ViewIngest } from './service';

export interface IngestOutcome {
  source: string;
  status: 'ingested' | 'already-ingested';
  accepted: number;
  rejected: number;
  late: number;
  views: Record<string, ViewIngest>;
}

export class IngestMetrics {
  readonly registry = new Registry();
  private readonly records = new Counter({
    name: 'strata_ingest_records_total',
    help: 'Records received by ingest, by source and outcome (accepted, rejected = dead-lettered, late = older than a view allows).',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly rows = new Counter({
    name: 'strata_ingest_feature_rows_total',
    help: 'Feature rows written by ingest, by view.',
    labelNames: ['view'] as const,
    registers: [this.registry],
  });
  private readonly batches = new Counter({
    name: 'strata_ingest_batches_total',
    help: 'Batches (Event Hubs batches, file chunks) by source and status (ingested, already-ingested = a redelivery).',
    labelNames: ['source', 'status'] as const,
    registers: [this.registry],
  });

  observe(o: IngestOutcome): void {
    this.batches.inc({ source: o.source, status: o.status });
    if (o.status === 'already-ingested') return;
    this.records.inc({ source: o.source, outcome: 'accepted' }, o.accepted);
    this.records.inc({ source: o.source, outcome: 'rejected' }, o.rejected);
    this.records.inc({ source: o.source, outcome: 'late' }, o.late);
    for (const [view, v] of Object.entries(o.views)) this.rows.inc({ view }, v.rows);
  }
}
