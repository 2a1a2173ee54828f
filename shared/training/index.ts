/**
 * Training (service D's core): trainers behind one contract, the fit as a pure function of
 * a job, the worker-thread runner that keeps fits off the serving thread, evaluation
 * metrics, and the baseline statistics monitoring compares against.
 */
export type { Task, DenseData, DataChunk, DataSource } from './data';
export { TASKS, denseData, denseSource, loadDense, checkLabels } from './data';
export type { BinnedData, BinningOptions } from './bins';
export { MAX_BINS, binDense, loadBinned, quantileCuts, upperBound } from './bins';
export type {
  Trainer,
  SyncTrainer,
  AnyTrainer,
  FitContext,
  FitProgress,
  FittedModel,
  LossCurves,
  ModelOutput,
  DataLayout,
  TrainingRows,
} from './trainer';
export { parseParams } from './trainer';
export { logisticTrainer, LogisticParamsSchema, type LogisticParams } from './logistic';
export { gbdtTrainer, fitGbdt, type GbdtParams } from './gbdt/trainer';
export { GbdtParamsSchema } from './gbdt/params';
export { registerTrainer, loadTrainerModule, getTrainer, trainerNames, BUILT_IN_TRAINERS } from './trainers';
export type { FitJob, FitOutcome, FitPhase, JobProgress, DataRef, InlineRef } from './fit';
export { runFit, sourceOf } from './fit';
export type { ParquetRef, TimeSplit } from './parquet';
export { parquetSource, timeSplit } from './parquet';
export {
  TrainingRunner,
  HEAVY_TAG,
  type TrainingRunnerOptions,
  type RunOptions,
  type RunnerProgress,
  type RunnerStatus,
} from './runner';
export * from './metrics';
export type { Baseline, ColumnBaseline, BaselineOptions } from './baseline';
export { computeBaseline, binIndex, countBins, BASELINE_SCHEMA, BIN_RULE } from './baseline';
export { Random } from './random';
export { scoreOnnx, evaluateOnnx } from './onnx-score';
