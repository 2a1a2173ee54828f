/**
 * The deployment in infra/ as the infra tests see it: main.bicep read once (./bicep.ts), a
 * parameter set made from the checked-in parameter files plus overrides, and helpers that
 * find what a parameter set deploys (./bicep-eval.ts). Also the code facts the checks hold
 * the templates against (setting names, function names, metric names, containers).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadDeployment, Instance } from './bicep';
import { allDeployedModules, DeployedModule, isPlainObject, Opaque, Scope, Value } from './bicep-eval';

export const ROOT = path.resolve(__dirname, '..', '..');
export const INFRA = path.join(ROOT, 'infra');
export const MAIN = path.join(INFRA, 'main.bicep');
export const PARAMETER_FILES = [path.join(INFRA, 'main.parameters.json'), path.join(INFRA, 'hubs.parameters.json')];

let cached: Instance | undefined;
export function deployment(): Instance {
  return (cached ??= loadDeployment(MAIN));
}

export function parameterFile(file: string): Record<string, Value> {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { parameters: Record<string, { value: Value }> };
  return Object.fromEntries(Object.entries(json.parameters).map(([k, v]) => [k, v.value]));
}

/** The parameters `az deployment group create -p main.parameters.json -p hubs.parameters.json -p k=v...` passes. */
export function parameterSet(overrides: Record<string, Value> = {}): Record<string, Value> {
  return Object.assign({}, ...PARAMETER_FILES.map(parameterFile), overrides);
}

export function rootScope(overrides: Record<string, Value> = {}): Scope {
  return { instance: deployment(), params: parameterSet(overrides), env: new Map() };
}

/** The parameter sets the checks run over: both plans, both Redis modes, public and private. */
export const SCENARIOS: Array<{ name: string; params: Record<string, Value> }> = [
  { name: 'Flex Consumption, Entra ID Redis, public', params: {} },
  {
    name: 'Flex Consumption, access-key Redis, private',
    params: { redisAuthentication: 'AccessKey', privateNetworking: true },
  },
  {
    name: 'Elastic Premium, Entra ID Redis, private',
    params: { hostingPlan: 'ElasticPremium', privateNetworking: true },
  },
  {
    name: 'Elastic Premium, access-key Redis, public, uploads subscribed, alerts mailed',
    params: {
      hostingPlan: 'ElasticPremium',
      redisAuthentication: 'AccessKey',
      subscribeUploads: true,
      alertEmail: 'oncall@example.com',
      keyVaultSecretSettings: ['STRATA_EXTRA_SECRET'],
    },
  },
];

/** Module invocations whose target (AVM reference or local file) contains `target`. */
export function modulesOf(scope: Scope, target: string): DeployedModule[] {
  return allDeployedModules(scope).filter((m) => m.call.target.includes(target));
}

export function onlyModule(scope: Scope, target: string): DeployedModule {
  const all = modulesOf(scope, target);
  if (all.length !== 1) throw new Error(`expected one ${target} module, found ${all.length}`);
  return all[0]!;
}

/** The Function App's app settings under a parameter set (the AVM site module's `appsettings` config). */
export function appSettings(scope: Scope): Record<string, Value> {
  const site = onlyModule(scope, 'avm/res/web/site:');
  const configs = site.params.configs;
  if (!Array.isArray(configs)) throw new Error('site module: configs is not an array');
  const app = configs.find((c) => isPlainObject(c) && c.name === 'appsettings');
  if (!isPlainObject(app) || !isPlainObject(app.properties))
    throw new Error('site module: no appsettings config with literal properties');
  return app.properties;
}

export const refOf = (v: Value | undefined): string | undefined => (v instanceof Opaque ? v.ref : undefined);

// ---------------------------------------------------------------- the code's side

/** Source files of the app that runs on Azure (not the local host, tests or benchmarks). */
export function appSources(): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = (dir: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, d.name);
      if (d.isDirectory()) walk(full);
      else if (d.name.endsWith('.ts'))
        out.push({ file: path.relative(ROOT, full), text: fs.readFileSync(full, 'utf8') });
    }
  };
  for (const dir of ['functions', 'orchestrations', 'shared']) walk(path.join(ROOT, dir));
  return out;
}

/** Names of the functions the app registers with a literal name (`app.http('predict', ...)`). */
export function registeredFunctions(): Array<{ name: string; trigger: string; file: string; options: string }> {
  const out: Array<{ name: string; trigger: string; file: string; options: string }> = [];
  for (const { file, text } of appSources()) {
    const re = /\b(app|df\.app|df\.app\.client)\.(\w+)\(\s*'([^']+)'\s*,\s*\{/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      // The options object: up to the first line that closes the call at the same indentation.
      const start = m.index + m[0].length;
      const end = text.indexOf('\n});', start);
      out.push({
        name: m[3]!,
        trigger: `${m[1]}.${m[2]}`,
        file,
        options: text.slice(start, end < 0 ? undefined : end),
      });
    }
  }
  return out;
}

/** Prometheus metric names the app registers (`name: 'strata_...'` in a prom-client constructor). */
export function exportedMetrics(): Set<string> {
  const out = new Set<string>();
  for (const { text } of appSources())
    for (const m of text.matchAll(/\bname:\s*'(strata_[a-z0-9_]+)'/g)) out.add(m[1]!);
  return out;
}

/** Blob containers the code names: `*_CONTAINER = '...'` constants, defaults, blob-trigger paths. */
export function containersInCode(): Set<string> {
  const out = new Set<string>();
  for (const { text } of appSources()) {
    for (const m of text.matchAll(/_CONTAINER\s*=\s*'([a-z0-9-]+)'/g)) out.add(m[1]!);
    for (const m of text.matchAll(/\bcontainer\s*\?\?\s*'([a-z0-9-]+)'/g)) out.add(m[1]!);
  }
  for (const f of registeredFunctions()) {
    if (f.trigger !== 'app.storageBlob') continue;
    const p = /\bpath:\s*'([a-z0-9-]+)\//.exec(f.options);
    if (p) out.add(p[1]!);
  }
  return out;
}
