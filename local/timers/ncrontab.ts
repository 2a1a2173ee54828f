/**
 * The NCRONTAB parser lives in shared/schedule/ncrontab.ts (pure, no I/O): the app checks a
 * training config's schedule with the same parser the local host's timers run on.
 */
export * from '../../shared/schedule/ncrontab';
