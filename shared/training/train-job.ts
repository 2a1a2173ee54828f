/**
 * The train job's identity and input, shared by the HTTP route, the timer, startTraining and
 * the orchestration itself:
 *
 *   parseTrainRequest(repo, configs, body, now)   POST /api/jobs/train's body: a model, and any
 *                                                  fields of its training config to override for this
 *                                                  job (trainer, params, labels, window, gate, ...);
 *                                                  checked as a whole config (400 naming the field);
 *                                                  a `last` window is resolved here, so the job's
 *                                                  input names exact times
 *   parseTrainJob(repo, configs, input)            the orchestration's input, by the same rules
 *                                                  (an instance started on the Durable API with a
 *                                                  bad input fails at once naming the field)
 *   trainInstanceId(job)                           from (model, trainer config, data window,
 *                                                  definition versions): a second trigger joins
 *
 * Everything here is pure (no clock, no I/O), so the orchestrator may call it on every replay.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { StrataError, ValidationError } from '../errors';
import type { FeatureRepo } from '../features/definitions/repo';
import { canonicalJson } from '../canonical-json';
import { nameSchema } from '../names';
import { APP_VERSION } from '../version';
import { resolveTrainingConfig, resolveWindow, type TrainingConfig, type TrainingConfigInput } from './config';

export const TRAIN_JOB_PREFIX = 'train-';

/** The POST body: the model, why, and overrides of its declared config. */
export const TrainRequestSchema = z
  .object({
    model: nameSchema('model'),
    reason: z.string().min(1).max(200).optional(),
    featureService: z.unknown().optional(),
    labels: z.unknown().optional(),
    window: z.unknown().optional(),
    knownAt: z.unknown().optional(),
    task: z.unknown().optional(),
    trainer: z.unknown().optional(),
    params: z.unknown().optional(),
    seed: z.unknown().optional(),
    holdoutFraction: z.unknown().optional(),
    threads: z.unknown().optional(),
    gate: z.unknown().optional(),
    tags: z.unknown().optional(),
    description: z.unknown().optional(),
  })
  .strict();

/** The orchestration's input: the request with its window as exact times. */
export interface TrainJobInput {
  model: string;
  reason: string;
  overrides: Record<string, unknown>;
  window: { from: number; to: number };
}

export interface TrainJob {
  input: TrainJobInput;
  config: TrainingConfig;
  window: { from: number; to: number };
  /** The versions of what the job reads: the feature service, its views, the label source. */
  definitionVersions: Record<string, string>;
  codeVersion: string;
}

type Configs = (model: string) => TrainingConfigInput | undefined;

function withDetails(e: unknown): never {
  if (e instanceof ValidationError && e.details.length && !e.message.includes(': ')) {
    throw new ValidationError(
      `${e.message}: ${e.details.map((d) => `${d.where}: ${d.problem}`).join('; ')}`,
      e.details,
    );
  }
  throw e;
}

function merged(configs: Configs, model: string, overrides: Record<string, unknown>): unknown {
  const declared = configs(model);
  if (!declared && overrides.featureService === undefined) {
    throw new StrataError(`model ${model} has no training config`, 404, [
      {
        where: 'model',
        problem:
          'declare one in shared/definitions/training.ts, or give featureService, labels, window and trainer in the request',
      },
    ]);
  }
  const base: Record<string, unknown> = { ...(declared ?? {}) };
  // A job's window or labels replace the declared ones as a whole; params too (no deep merge surprises).
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) base[k] = v;
  base.model = model;
  // A job is not a timer: its own schedule is irrelevant, the declared one stays the model's.
  return base;
}

export function definitionVersions(repo: FeatureRepo, config: TrainingConfig): Record<string, string> {
  const svc = repo.services.get(config.featureService)!;
  const out: Record<string, string> = {
    [`service:${svc.name}`]: svc.version,
    [`source:${config.labels.source}`]: repo.source(config.labels.source).version,
  };
  for (const v of svc.views) out[`view:${v}`] = repo.view(v).version;
  return out;
}

function build(repo: FeatureRepo, configs: Configs, input: TrainJobInput): TrainJob {
  const config = resolveTrainingConfig(
    repo,
    merged(configs, input.model, { ...input.overrides, window: input.window }),
  );
  return {
    input,
    config,
    window: input.window,
    definitionVersions: definitionVersions(repo, config),
    codeVersion: APP_VERSION,
  };
}

export function parseTrainRequest(
  repo: FeatureRepo,
  configs: Configs,
  body: unknown,
  now: number,
  defaultReason = 'http',
): TrainJob {
  try {
    const r = TrainRequestSchema.safeParse(body ?? {});
    if (!r.success) {
      throw new ValidationError(
        'invalid train request',
        r.error.issues.map((i) => ({
          where: i.path.join('.') || 'body',
          problem:
            i.code === 'unrecognized_keys'
              ? `unknown field(s) ${(i as { keys: string[] }).keys.join(', ')}; a train request takes model, reason and the fields of a training config`
              : i.message,
        })),
      );
    }
    const { model, reason, ...rest } = r.data;
    const overrides = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    // Check the whole config first (shapes and repo), then resolve its window to exact times.
    const config = resolveTrainingConfig(repo, merged(configs, model, overrides));
    const window = resolveWindow(config.window, now);
    const { window: _w, ...kept } = overrides;
    return build(repo, configs, { model, reason: reason ?? defaultReason, overrides: kept, window });
  } catch (e) {
    withDetails(e);
  }
}

const InputSchema = z
  .object({
    model: nameSchema('model'),
    reason: z.string().min(1),
    overrides: z.record(z.string(), z.unknown()),
    window: z
      .object({ from: z.number().finite(), to: z.number().finite() })
      .strict()
      .refine((w) => w.from < w.to, { message: 'from must be before to', path: ['to'] }),
  })
  .strict();

export function parseTrainJob(repo: FeatureRepo, configs: Configs, input: unknown): TrainJob {
  try {
    const r = InputSchema.safeParse(input);
    if (!r.success)
      throw new ValidationError(
        'invalid train job input',
        r.error.issues.map((i) => ({ where: i.path.join('.') || 'input', problem: i.message })),
      );
    return build(repo, configs, r.data);
  } catch (e) {
    withDetails(e);
  }
}

/** What identifies the work: the same model, trainer config, window and definitions, the same job. */
export function trainIdentity(job: TrainJob): unknown {
  const c = job.config;
  return {
    model: c.model,
    trainer: c.trainer,
    params: c.params,
    task: c.task,
    seed: c.seed,
    holdoutFraction: c.holdoutFraction,
    threads: c.threads,
    featureService: c.featureService,
    labels: c.labels,
    knownAt: c.knownAt,
    gate: c.gate,
    window: job.window,
    definitions: job.definitionVersions,
  };
}

/** The config and definitions part of the identity (no window): what "nothing changed" compares beside the data. */
export function configFingerprint(job: TrainJob): string {
  const { window: _w, ...rest } = trainIdentity(job) as Record<string, unknown>;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 32);
}

export function trainInstanceId(job: TrainJob): string {
  const h = createHash('sha256')
    .update(canonicalJson(trainIdentity(job)))
    .digest('hex')
    .slice(0, 24);
  return `${TRAIN_JOB_PREFIX}${job.config.model}-${h}`;
}
