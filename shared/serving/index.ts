export { ServingService } from './service';
export type { ServingOptions, ModelDetails } from './service';
export {
  ModelRegistry,
  PRODUCTION,
  CANARY,
  isShadowAlias,
  FULL_PRODUCTION,
  checkModelName,
  checkAliasName,
} from './registry';
export type {
  ModelState,
  ModelVersion,
  HistoryEntry,
  HistoryAction,
  TrafficPolicy,
  ArtifactRef,
  RegisterInput,
} from './registry';
export { SignatureSchema, FeatureServiceSchema, FeatureRefSchema, refKey, compilePlan } from './signature';
export type {
  ModelSignature,
  ModelSignatureInput,
  FeatureService,
  FeatureRef,
  FeaturePolicy,
  OutputSpec,
  ServingPlan,
} from './signature';
export { DeploymentCache } from './deployments';
export type { Deployment, DeployedVersion, RegistryReader } from './deployments';
export { SessionCache, createSession } from './sessions';
export type { Lease, VersionKey, SessionStatus } from './sessions';
export { bucketOf, route, mainRoute, parsePin, resolvePin, BUCKETS } from './router';
export type { RoutedBy, Route } from './router';
export { Predictor } from './predictor';
export type {
  PredictTarget,
  GivenRows,
  PredictOptions,
  PredictResult,
  EntityPrediction,
  PredictTiming,
} from './predictor';
export { PredictionLog, PredictionRecordSchema } from './prediction-log';
export type { PredictionRecord, PredictionSink, PredictionLogOptions } from './prediction-log';
export { ServingMetrics, LATENCY_BUCKETS_MS, quantile } from './metrics';
export type { ModelStats, VersionStats } from './metrics';
export { checkArtifact } from './artifact-check';
export type { ArtifactCheck, TensorInfo } from './artifact-check';
export { withFeatureService, checkRepoFeatures } from './repo-features';
export * from './api-schemas';
