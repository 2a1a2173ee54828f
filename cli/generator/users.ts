/**
 * The synthetic users behind the generated data, and the known signal that makes a churn
 * model mean something. Each user has two latent traits (how active, how much they buy)
 * drawn from the seed; their clicks and purchases follow from the traits, and so does
 * whether they churn:
 *
 *   P(churn) = sigmoid(CHURN_MODEL.intercept + CHURN_MODEL.activity * zActivity + CHURN_MODEL.buying * zBuying)
 *
 * Quiet users and users who rarely buy churn more; a churner's activity also fades over the
 * generated span. Features such as clicks_24h or purchases_7d therefore carry the signal a
 * trained model should find. User i's traits depend only on (seed, i): more users add users.
 */
import { RandomStream } from './random';

export const CHURN_MODEL = Object.freeze({ intercept: -1.0, activity: -1.2, buying: -0.8 });

/** A churner's activity at the end of the span, relative to its start (it fades linearly). */
export const CHURNER_FADE = 0.4;

/** Purchase amounts: log amount = N(log 35 + 0.4 z_user, 0.5). */
export const AMOUNT_LOG_MEAN = Math.log(35);
export const AMOUNT_LOG_SD_USER = 0.4;
export const AMOUNT_LOG_SD_ORDER = 0.5;

/** Session length at a click, ms: log N(log 90 s, 0.8). */
export const SESSION_LOG_MEAN = Math.log(90_000);
export const SESSION_LOG_SD = 0.8;

/** Standard deviation of a log-normal variable with log mean m and log sd s. */
export function logNormalSd(m: number, s: number): number {
  return Math.sqrt((Math.exp(s * s) - 1) * Math.exp(2 * m + s * s));
}

/** The population's standard deviation of amounts and session lengths: the unit of a drift shift. */
export const AMOUNT_SD = logNormalSd(AMOUNT_LOG_MEAN, Math.hypot(AMOUNT_LOG_SD_USER, AMOUNT_LOG_SD_ORDER));
export const SESSION_SD = logNormalSd(SESSION_LOG_MEAN, SESSION_LOG_SD);

export const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;
const CURRENCY_SHARE = [0.55, 0.3, 0.15];

/** The shop's pages; a user's favourite gets extra clicks. */
export const PAGES: readonly string[] = [
  '/home',
  '/search',
  '/cart',
  '/account',
  '/help',
  '/pricing',
  '/deals',
  ...Array.from({ length: 16 }, (_, i) => `/product/${i + 1}`),
];

export interface SyntheticUser {
  id: string;
  index: number;
  zActivity: number;
  zBuying: number;
  /** Relative event rate (log-normal, median 1). */
  activity: number;
  /** Share of the user's events that are purchases. */
  purchaseShare: number;
  /** Mean log amount of the user's orders. */
  spendLog: number;
  currency: (typeof CURRENCIES)[number];
  favouritePage: string;
  churnProbability: number;
  /** The label: whether this user churns. */
  churned: boolean;
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** User ids sort in creation order: u000001, u000002, ... */
export function userId(index: number): string {
  return `u${String(index + 1).padStart(6, '0')}`;
}

export function makeUsers(seed: number, count: number): SyntheticUser[] {
  const r = new RandomStream(seed, 'users');
  const users: SyntheticUser[] = [];
  for (let i = 0; i < count; i++) {
    const zActivity = r.normal();
    const zBuying = r.normal();
    const spendLog = AMOUNT_LOG_MEAN + AMOUNT_LOG_SD_USER * r.normal();
    const uCurrency = r.uniform();
    const favouritePage = PAGES[Math.floor(r.uniform() * PAGES.length)]!;
    const churnProbability = sigmoid(
      CHURN_MODEL.intercept + CHURN_MODEL.activity * zActivity + CHURN_MODEL.buying * zBuying,
    );
    const churned = r.uniform() < churnProbability;
    users.push({
      id: userId(i),
      index: i,
      zActivity,
      zBuying,
      activity: Math.exp(0.6 * zActivity),
      purchaseShare: sigmoid(-3.2 + 0.7 * zBuying),
      spendLog,
      currency:
        CURRENCIES[uCurrency < CURRENCY_SHARE[0]! ? 0 : uCurrency < CURRENCY_SHARE[0]! + CURRENCY_SHARE[1]! ? 1 : 2],
      favouritePage,
      churnProbability,
      churned,
    });
  }
  return users;
}
