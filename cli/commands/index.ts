/** Every `strata` command, in the order help lists them. A new command: a file here and a line below. */
import type { CommandSpec } from '../core/command';
import { startCommand } from './start';
import { produceCommand } from './produce';
import { uploadCommand } from './upload';
import { applyCommand } from './apply';
import { planCommand } from './plan';
import { backfillCommand } from './backfill';
import { materializeCommand } from './materialize';
import { featuresCommand } from './features';
import { trainingSetCommand } from './training-set';
import { trainCommand } from './train';
import { runsCommand } from './runs';
import { modelsCommand } from './models';
import { predictCommand } from './predict';
import { demoCommand } from './demo';
import { statusCommand } from './status';
import { alertsCommand } from './alerts';

export const COMMANDS: readonly CommandSpec[] = [
  startCommand,
  statusCommand,
  applyCommand,
  uploadCommand,
  produceCommand,
  featuresCommand,
  planCommand,
  backfillCommand,
  materializeCommand,
  trainingSetCommand,
  trainCommand,
  runsCommand,
  modelsCommand,
  predictCommand,
  alertsCommand,
  demoCommand,
];
