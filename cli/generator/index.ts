/** The data generator behind `strata produce` and examples/: pure, seeded, no I/O. */
export {
  generateRecords,
  labelTimes,
  checkGeneratorOptions,
  LATE_DELAY_MS,
  CORRECTION_DELAY_MS,
  CORRECTION_FACTOR,
} from './events';
export type { GeneratorOptions, GeneratedRecord, Click, Purchase } from './events';
export { parseDrift, DRIFT_FIELDS, DRIFT_PAGE, type DriftSpec, type DriftField } from './drift';
export { DailyPattern, HOURLY_ACTIVITY, WEEKEND_FACTOR, activityAt } from './daily';
export { makeUsers, userId, CHURN_MODEL, AMOUNT_SD, SESSION_SD, PAGES, type SyntheticUser } from './users';
