export {
  buildTrainingSet,
  createTrainingSet,
  TRAINING_SETS_CONTAINER,
  type TrainingSetBuild,
  type TrainingSetRequest,
  type TrainingSetResult,
  type TrainingSetView,
  type SegmentUse,
} from './training-set';
export { parseTrainingSetRequest, trainingSetRequestSchema, spineRowSchema } from './request';
export {
  pointInTimeJoin,
  planPointInTimeJoin,
  type KnownAt,
  type PitView,
  type PitFeature,
  type PitJoinOptions,
} from './join';
export { loadSpine, type SpineRow, type SpineSource, type LoadedSpine } from './spine';
