/**
 * The trainers a fit can name: the built-ins, plus trainers from users' own modules. A
 * user's trainer is a TypeScript (compiled to .js) module exporting `trainer` (or a default
 * export) that implements the Trainer contract; the fit worker loads it by path, so it runs
 * in the worker like the built-ins. Names are unique: a module cannot replace a built-in.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { ValidationError } from '../errors';
import { gbdtTrainer } from './gbdt/trainer';
import { logisticTrainer } from './logistic';
import type { AnyTrainer } from './trainer';

const builtIn: AnyTrainer[] = [logisticTrainer, gbdtTrainer];
const registered = new Map<string, AnyTrainer>(builtIn.map((t) => [t.name, t]));

export const BUILT_IN_TRAINERS = builtIn.map((t) => t.name);

function isTrainer(x: unknown): x is AnyTrainer {
  const t = x as AnyTrainer | undefined;
  return (
    !!t &&
    typeof t.name === 'string' &&
    typeof t.fit === 'function' &&
    typeof t.parseParams === 'function' &&
    typeof t.layout === 'function' &&
    Array.isArray(t.tasks)
  );
}

export function registerTrainer(t: AnyTrainer): void {
  if (!isTrainer(t))
    throw new ValidationError('not a trainer', [
      { where: 'trainer', problem: 'needs name, tasks, parseParams, layout and fit (see shared/training/trainer.ts)' },
    ]);
  const existing = registered.get(t.name);
  if (existing && existing !== t)
    throw new ValidationError(`a trainer named "${t.name}" is already registered`, [
      { where: 'trainer.name', problem: 'choose another name' },
    ]);
  registered.set(t.name, t);
}

/** Load and register the trainer a module exports (`trainer` or default). Returns its name. */
export function loadTrainerModule(file: string): string {
  const abs = path.resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = createRequire(__filename)(abs) as Record<string, unknown>;
  } catch (e) {
    throw new ValidationError('the trainer module cannot be loaded', [
      { where: 'trainerModules', problem: `${abs}: ${(e as Error).message.split('\n')[0]}` },
    ]);
  }
  const t = mod.trainer ?? mod.default;
  if (!isTrainer(t)) {
    throw new ValidationError('the module does not export a trainer', [
      {
        where: 'trainerModules',
        problem: `${abs} must export \`trainer\` (or a default export) implementing Trainer: name, tasks, parseParams, layout, fit`,
      },
    ]);
  }
  registerTrainer(t);
  return t.name;
}

export function getTrainer(name: string): AnyTrainer {
  const t = registered.get(name);
  if (!t)
    throw new ValidationError(`unknown trainer "${name}"`, [
      { where: 'trainer', problem: `known trainers: ${[...registered.keys()].join(', ')}` },
    ]);
  return t;
}

export function trainerNames(): string[] {
  return [...registered.keys()];
}
