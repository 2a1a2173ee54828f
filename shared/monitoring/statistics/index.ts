export { ksTest, ksStatistic, ksPValue } from './kolmogorov-smirnov';
export type { KsResult } from './kolmogorov-smirnov';
export { chiSquareHomogeneity, chiSquareSurvival } from './chi-square';
export type { ChiSquareResult } from './chi-square';
export { wassersteinDistance, normalizedWasserstein } from './wasserstein';
export { populationStabilityIndex, PSI_EMPTY_BIN_SHARE } from './psi';
export { jensenShannonDistance } from './jensen-shannon';
