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
    if (wait > MAX_DELAY) handle = setTimeout(arm, MAX_DELAY);
    else handle = setTimeout(fire, Math.max(0, wait));
  };
  arm();
  return { cancel: () => clearTimeout(handle) };
}
