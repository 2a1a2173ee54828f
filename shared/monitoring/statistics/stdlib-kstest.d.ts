/**
 * Types for the one file of @stdlib/stats-kstest that monitoring uses: Marsaglia, Tsang & Wang's
 * evaluation of the Kolmogorov distribution (the package exports only its one-sample test, whose
 * p-value is this function). The package version is pinned exactly, so the path is stable.
 */
declare module '@stdlib/stats-kstest/lib/marsaglia.js' {
  /** P(D_n < d) for the two-sided one-sample Kolmogorov–Smirnov statistic D_n over n values. */
  function pKolmogorov(d: number, n: number): number;
  export = pKolmogorov;
}
