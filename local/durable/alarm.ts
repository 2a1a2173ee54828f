/** setTimeout caps delays at 2^31-1 ms (~24.8 days); durable timers may be further out. */
const MAX_DELAY = 2 ** 31 - 1;

export interface Alarm {
  cancel(): void;
}

/** Call `fire` at `at` (at once if it is past), however far away that is. */
export function alarmAt(at: Date, fire: () => void): Alarm {
  let handle: NodeJS.Timeout | undefined;
  const arm = () => {
    const wait = at.getTime() - Date.now();
    // Node's timers can wake a millisecond before the wall clock reaches `at` (they run on a
    // monotonic clock): wait again then, so a durable timer never fires before its fire time
    // (an orchestration reading currentUtcDateTime after it would see time run backwards).
    handle = wait > 0 ? setTimeout(arm, Math.min(wait, MAX_DELAY)) : setTimeout(fire, 0);
  };
  arm();
  return { cancel: () => clearTimeout(handle) };
}
