/**
 * `produce --wait`: after sending, wait until the app has ingested what was sent, judged by the
 * plan: every view over a produced source has seen that source's newest event sent and has
 * caught up with it (watermark at its sources' newest event). Bounded; says what it waited for.
 */
import type { ApiClient } from '../core/client';
import { Failed } from '../core/errors';
import type { Plan } from '../commands/plan';
import type { FeatureRepo } from '../../shared/features/definitions/repo';

export async function waitForIngest(
  api: ApiClient,
  repo: FeatureRepo,
  newestSent: ReadonlyMap<string, number>,
  timeoutMs: number,
  pollMs = 500,
): Promise<{ views: string[]; waitedMs: number }> {
  const needs = new Map<string, number>();
  for (const v of repo.views.values()) {
    const newest = v.input.kind === 'source' ? newestSent.get(v.input.source) : undefined;
    if (newest !== undefined) needs.set(v.name, newest);
  }
  const started = Date.now();
  let pending: string[] = [...needs.keys()];
  while (pending.length) {
    const plan = await api.json<Plan>('GET', '/api/plan', { query: { views: pending.join(',') } });
    pending = plan.views
      .filter((v) => needs.has(v.view))
      .filter(
        (v) => !(v.caughtUp && v.newestSourceEvent !== null && Date.parse(v.newestSourceEvent) >= needs.get(v.view)!),
      )
      .map((v) => v.view);
    if (!pending.length) break;
    if (Date.now() - started > timeoutMs) {
      throw new Failed(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for views ${pending.join(', ')} to catch up with the events sent (see \`npx strata plan\`)`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return { views: [...needs.keys()], waitedMs: Date.now() - started };
}
