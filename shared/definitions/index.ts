/**
 * The feature repo this app serves. Replace the sample with your own definitions (or add
 * yours beside it); every function, job and test reads the repo from here.
 */
export { churnRepo as featureRepo } from './churn';
