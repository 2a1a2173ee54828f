/**
 * The feature repo this app serves: the churn sample (replace it with your own definitions,
 * or add yours beside it) plus the sources the platform produces itself (the prediction
 * log). Every function, job and test reads the repo from here.
 */
import { defineRepo } from '../features/definitions/language';
import { churnRepoSpec } from './churn';
import { platformSources } from './platform-sources';

export const featureRepo = defineRepo({ ...churnRepoSpec, sources: [...churnRepoSpec.sources, ...platformSources] });
