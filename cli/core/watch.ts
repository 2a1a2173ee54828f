/**
 * Following a job the app runs (a backfill, a train job): ask for its status every `pollMs`
 * until `finished` says so, riding out an app that stops answering for a while (a restart: the
 * job goes on without us), and say so in the progress line. One loop for every --watch.
 */
import { Failed } from './errors';
import type { Progress } from './progress';

/** How long --watch keeps asking an app that does not answer before it gives up. */
export const WATCH_PATIENCE_MS = 60_000;

export async function watchJob<S>(o: {
  read: () => Promise<S>;
  finished: (s: S) => boolean;
  onStatus: (s: S) => void;
  progress: Progress;
  pollMs: number;
}): Promise<S> {
  let unreachableSince: number | undefined;
  for (;;) {
    let status: S;
    try {
      status = await o.read();
      unreachableSince = undefined;
    } catch (e) {
      if (!(e instanceof Failed) || Date.now() - (unreachableSince ??= Date.now()) > WATCH_PATIENCE_MS) throw e;
      o.progress.message(`app not answering (${e.message.split(':')[0]}); still watching`);
      await new Promise((r) => setTimeout(r, o.pollMs));
      continue;
    }
    o.onStatus(status);
    if (o.finished(status)) return status;
    await new Promise((r) => setTimeout(r, o.pollMs));
  }
}
