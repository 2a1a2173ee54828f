/**
 * The evaluation gate: what happens to a freshly registered version, by the config's policy,
 * from the candidate's and the production version's metric on the same holdout.
 *
 *   register   staged only: the `staging` alias points at it, traffic is untouched
 *   canary     better than production by the margin: the `canary` alias and canaryShare % of
 *              live traffic; otherwise refused (registered and staged, never served)
 *   promote    better by the margin: production at once; otherwise refused
 *
 * With no production version (the model's first) canary and promote make it production: there
 * is nothing to compare with and nothing else to serve. `decideGate` is pure (what and why);
 * `applyGate` carries the decision out on the registry and is idempotent (re-applying the same
 * decision after a crash changes nothing further).
 */
import { isBetter, type GateMetric, type GatePolicy } from './config';
import type { GateDecision } from './runs';
import type { Metrics } from './metrics';
import { CANARY, PRODUCTION, type ModelRegistry, type ModelState, type TrafficPolicy } from '../serving/registry';

/** Who changes aliases and traffic: the serving service (so this instance warms the version and serves it at once), or the bare registry. */
export interface Deployer {
  setAlias(model: string, alias: string, version: number | null): Promise<ModelState>;
  setTraffic(model: string, traffic: TrafficPolicy): Promise<ModelState>;
}

export const STAGING = 'staging';

export interface GateInput {
  policy: GatePolicy;
  metric: GateMetric;
  margin: number;
  candidate: Metrics;
  /** The production version's metrics on the same holdout; null: no production version to compare with. */
  production: Metrics | null;
  productionVersion: number | null;
}

function value(m: Metrics | null, metric: GateMetric): number | null {
  if (!m) return null;
  const v = (m as unknown as Record<string, unknown>)[metric];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

const fmt = (v: number) => (Math.abs(v) >= 1 ? v.toFixed(3) : v.toFixed(4));

export function decideGate(g: GateInput): GateDecision {
  const candidate = value(g.candidate, g.metric);
  const production = value(g.production, g.metric);
  const base = {
    policy: g.policy,
    metric: g.metric,
    margin: g.margin,
    candidate,
    production,
    productionVersion: g.productionVersion,
  };
  if (g.policy === 'register')
    return { ...base, action: 'staged', reason: 'policy register: staged only, traffic unchanged' };
  if (g.productionVersion === null)
    return { ...base, action: 'promoted', reason: 'no production version yet: the first version becomes production' };
  if (candidate === null)
    return {
      ...base,
      action: 'refused',
      reason: `the candidate has no ${g.metric} on the holdout (e.g. one class only): nothing to gate on`,
    };
  if (production === null) {
    return {
      ...base,
      action: 'refused',
      reason: `production version ${g.productionVersion} could not be scored on the same holdout (it reads other features): compare by hand and deploy with the models API`,
    };
  }
  const diff = candidate - production;
  const vs = `${g.metric} ${fmt(candidate)} vs production v${g.productionVersion} ${fmt(production)} (${diff >= 0 ? '+' : ''}${fmt(diff)}, margin ${g.margin})`;
  if (!isBetter(g.metric, candidate, production, g.margin))
    return { ...base, action: 'refused', reason: `not better by the margin: ${vs}` };
  return { ...base, action: g.policy === 'canary' ? 'canary' : 'promoted', reason: `better: ${vs}` };
}

/** Carry the decision out for `version`; every step is a no-op when already so. */
export async function applyGate(
  registry: ModelRegistry,
  deployer: Deployer,
  model: string,
  version: number,
  d: GateDecision,
  canaryShare: number,
): Promise<void> {
  if (d.action === 'staged' || d.action === 'refused') {
    await deployer.setAlias(model, STAGING, version);
    return;
  }
  if (d.action === 'promoted') {
    const state = await registry.getModel(model);
    if (state.aliases[PRODUCTION] !== version) await deployer.setAlias(model, PRODUCTION, version);
    return;
  }
  await deployer.setAlias(model, CANARY, version);
  await deployer.setTraffic(model, { production: 100 - canaryShare, canary: canaryShare });
}
