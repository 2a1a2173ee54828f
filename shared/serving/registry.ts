/**
 * The model registry (MLflow's vocabulary): models, immutable numbered versions (ONNX
 * artifact in Blob, signature, the registration check), aliases (`production`, `canary`,
 * `shadow`, `shadow-*` or any name), a traffic policy, and a history of every change.
 *
 * Models live in a ModelStore (model-store.ts): every change of a model is one atomic update
 * over its state as read. Artifacts are content-addressed (`{model}/{sha256}.onnx`). A
 * registration also claims its content (artifact hash + signature) in the same update, so the
 * same file registered many times at once gives one version: the losers find the claim and
 * answer it.
 */
import { canonicalJson, sha256Hex } from '../canonical-json';
import { ConflictError, DependencyError, NotFoundError, ValidationError, detailsFromZod } from '../errors';
import type { ModelStore, ModelUpdate } from './model-store';
import { checkName } from '../names';
import { own } from '../own';
import { checkArtifact, type ArtifactCheck } from './artifact-check';
import { SignatureSchema, type ModelSignature } from './signature';

export const PRODUCTION = 'production';
export const CANARY = 'canary';
/** Aliases named `shadow` or `shadow-...` get a copy of production traffic and never answer. */
export const isShadowAlias = (alias: string): boolean => alias === 'shadow' || alias.startsWith('shadow-');

export type { ArtifactRef, HistoryAction, HistoryEntry, ModelState, ModelVersion, TrafficPolicy } from './model-types';
import type { ArtifactRef, HistoryEntry, ModelState, ModelVersion, TrafficPolicy } from './model-types';

export const FULL_PRODUCTION: TrafficPolicy = Object.freeze({ production: 100, canary: 0 });

export interface RegisterInput {
  artifact: Uint8Array;
  /** Validated here: raw JSON from a request is fine. */
  signature: unknown;
  description?: string;
  tags?: Record<string, string>;
}

/**
 * The key of a content claim: `x` + sha256(artifact sha256, canonical signature JSON); its row
 * holds the version the content made. Stored: frozen by test/unit/stored-ids.test.ts.
 */
export function contentClaimKey(sha256: string, signature: ModelSignature): string {
  return `x${sha256Hex(`${sha256}\n${canonicalJson(signature)}`)}`;
}
const MAX_PRODUCTION_HISTORY = 100;

export interface RegistryOptions {
  now?: () => number;
}

export class ModelRegistry {
  private readonly now: () => number;

  constructor(
    private readonly store: ModelStore,
    opts: RegistryOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Register a new version: validate the signature, load and run the model once, upload
   * the artifact, commit the version. Registering the same bytes with the same signature
   * again returns the existing version (`created: false`), so a retried publish is harmless.
   */
  async register(model: string, input: RegisterInput): Promise<{ version: ModelVersion; created: boolean }> {
    checkModelName(model);
    const parsed = SignatureSchema.safeParse(input.signature);
    if (!parsed.success) {
      throw new ValidationError(
        `model ${model}: the signature is not valid`,
        detailsFromZod(parsed.error.issues, 'signature'),
      );
    }
    const signature = parsed.data;
    const sha256 = sha256Hex(input.artifact);
    const sameSig = canonicalJson(signature);
    const claim = contentClaimKey(sha256, signature);
    const claimed = await this.store.claim(model, claim);
    if (claimed !== undefined) return { version: await this.getVersion(model, claimed), created: false };
    // Versions registered before content claims existed: found by comparing.
    const existing = (await this.store.state(model)) ? await this.listVersions(model) : [];
    const twin = existing.find((v) => v.artifact.sha256 === sha256 && canonicalJson(v.signature) === sameSig);
    if (twin) return { version: twin, created: false };

    const check = await checkArtifact(model, input.artifact, signature);
    const artifact: ArtifactRef = { blob: `${model}/${sha256}.onnx`, sha256, bytes: input.artifact.byteLength };
    await this.store.putArtifact(artifact, input.artifact, { model });

    await this.ensureState(model, input.description);
    let registered: ModelVersion | undefined;
    const r = await this.update(model, (state) => {
      const version = state.latestVersion + 1;
      state.latestVersion = version;
      registered = {
        model,
        version,
        artifact,
        signature,
        tags: input.tags ?? {},
        createdAt: this.now(),
        check,
        ...(input.description !== undefined ? { description: input.description } : {}),
      };
      return { history: [{ action: 'register', to: version }], version: registered, claim: { key: claim, version } };
    });
    // Someone else registered the same content first: its claim says which version it made.
    if ('claimed' in r) return { version: await this.getVersion(model, r.claimed), created: false };
    return { version: registered!, created: true };
  }

  async listModels(): Promise<ModelState[]> {
    return (await this.store.models()).sort((a, b) => a.model.localeCompare(b.model));
  }

  async getModel(model: string): Promise<ModelState> {
    checkModelName(model);
    const s = await this.store.state(model);
    if (!s)
      throw new NotFoundError(
        `model ${model} is not registered (POST /api/models/${model}/versions registers its first version)`,
      );
    return s.state;
  }

  async listVersions(model: string): Promise<ModelVersion[]> {
    return this.store.versions(model);
  }

  async getVersion(model: string, version: number): Promise<ModelVersion> {
    const found = await this.store.version(model, version);
    if (!found) throw new NotFoundError(`model ${model} has no version ${version}`);
    return found;
  }

  /** The ONNX bytes of a version, checked against the sha256 recorded at registration. */
  async readArtifact(ref: ArtifactRef): Promise<Uint8Array> {
    const buf = await this.store.readArtifact(ref);
    const sha = sha256Hex(buf);
    if (sha !== ref.sha256)
      throw new DependencyError(`artifact ${ref.blob} is corrupt: sha256 ${sha}, registered ${ref.sha256}`);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  async history(model: string, limit = 100): Promise<HistoryEntry[]> {
    return (await this.store.history(model)).slice(-limit);
  }

  /** Point an alias at a version, or remove it (version null). */
  async setAlias(model: string, alias: string, version: number | null): Promise<ModelState> {
    checkAliasName(alias);
    if (version !== null) await this.getVersion(model, version);
    return this.mutate(model, (s) => {
      const from = own(s.aliases, alias);
      if (from === (version ?? undefined)) return { history: [] };
      if (version === null) {
        if (alias === PRODUCTION) {
          throw new ConflictError(
            `model ${model}: the production alias cannot be removed; point it at another version or roll back`,
          );
        }
        delete s.aliases[alias];
        const history: HistoryDraft[] = [{ action: 'alias', alias, from }];
        if (alias === CANARY && s.traffic.canary > 0) {
          s.traffic = { ...FULL_PRODUCTION };
          history.push({ action: 'traffic', traffic: s.traffic });
        }
        return { history };
      }
      s.aliases[alias] = version;
      if (alias === PRODUCTION) pushProduction(s, version);
      return { history: [{ action: 'alias', alias, from, to: version }] };
    });
  }

  async setTraffic(model: string, traffic: TrafficPolicy): Promise<ModelState> {
    checkTraffic(model, traffic);
    return this.mutate(model, (s) => {
      if (traffic.canary > 0 && s.aliases[CANARY] === undefined) {
        throw new ConflictError(
          `model ${model} has no canary version to send ${traffic.canary}% to; set the canary alias first`,
          [
            {
              where: 'aliases.canary',
              problem: `unset; POST /api/models/${model}/aliases {"alias":"canary","version":<n>}`,
            },
          ],
        );
      }
      if (traffic.production > 0 && s.aliases[PRODUCTION] === undefined) {
        throw new ConflictError(
          `model ${model} has no production version to send ${traffic.production}% to; set the production alias first`,
        );
      }
      if (s.traffic.production === traffic.production && s.traffic.canary === traffic.canary) return { history: [] };
      s.traffic = { production: traffic.production, canary: traffic.canary };
      return { history: [{ action: 'traffic', traffic: s.traffic }] };
    });
  }

  /** The canary becomes production; the canary alias is removed and traffic goes 100% to production. */
  async promote(model: string): Promise<ModelState> {
    return this.mutate(model, (s) => {
      const canary = s.aliases[CANARY];
      if (canary === undefined) throw new ConflictError(`model ${model} has no canary version to promote`);
      const from = s.aliases[PRODUCTION];
      s.aliases[PRODUCTION] = canary;
      delete s.aliases[CANARY];
      pushProduction(s, canary);
      s.traffic = { ...FULL_PRODUCTION };
      return { history: [{ action: 'promote', alias: PRODUCTION, from, to: canary, traffic: s.traffic }] };
    });
  }

  /** Production goes back to the version that was production before the current one. */
  async rollback(model: string): Promise<ModelState> {
    return this.mutate(model, (s) => {
      const current = s.aliases[PRODUCTION];
      if (current === undefined || s.productionHistory.length < 2) {
        throw new ConflictError(`model ${model} has no previous production version to roll back to`, [
          {
            where: 'productionHistory',
            problem: `production has been ${s.productionHistory.length ? `only version ${s.productionHistory.join(', ')}` : 'unset'}`,
          },
        ]);
      }
      s.productionHistory.pop();
      const previous = s.productionHistory[s.productionHistory.length - 1]!;
      s.aliases[PRODUCTION] = previous;
      const history: HistoryDraft[] = [{ action: 'rollback', alias: PRODUCTION, from: current, to: previous }];
      if (s.aliases[CANARY] === previous) {
        delete s.aliases[CANARY];
        s.traffic = { ...FULL_PRODUCTION };
        history.push({ action: 'alias', alias: CANARY, from: previous }, { action: 'traffic', traffic: s.traffic });
      }
      return { history };
    });
  }

  // -- changes --------------------------------------------------------------------------

  private async ensureState(model: string, description: string | undefined): Promise<void> {
    if (await this.store.state(model)) return;
    const now = this.now();
    await this.store.createState({
      model,
      latestVersion: 0,
      aliases: {},
      traffic: { ...FULL_PRODUCTION },
      productionHistory: [],
      createdAt: now,
      updatedAt: now,
      ...(description !== undefined ? { description } : {}),
    });
  }

  /** A change of a model's state with its history entries, applied atomically by the store (and recomputed on a lost race). */
  private async mutate(model: string, change: (s: ModelState) => Draft): Promise<ModelState> {
    const r = await this.update(model, change);
    if ('claimed' in r) throw new ConflictError(`model ${model}: unexpected content claim`); // only registrations carry claims
    return r.state;
  }

  private async update(
    model: string,
    change: (s: ModelState) => Draft,
  ): Promise<{ state: ModelState } | { claimed: number }> {
    checkModelName(model);
    const r = await this.store.update(model, (state, historyCount): ModelUpdate | undefined => {
      const { history, ...written } = change(state);
      if (!history.length) return undefined;
      const at = this.now();
      state.updatedAt = at;
      return { state, history: history.map((h, i) => ({ ...h, seq: historyCount + i + 1, at })), ...written };
    });
    if (r === 'missing')
      throw new NotFoundError(
        `model ${model} is not registered (POST /api/models/${model}/versions registers its first version)`,
      );
    return r;
  }
}

/** What a change of a model's state writes beside it. */
interface Draft {
  history: HistoryDraft[];
  version?: ModelVersion;
  claim?: { key: string; version: number };
}

type HistoryDraft = Omit<HistoryEntry, 'seq' | 'at'>;

function pushProduction(s: ModelState, version: number): void {
  if (s.productionHistory[s.productionHistory.length - 1] === version) return;
  s.productionHistory.push(version);
  if (s.productionHistory.length > MAX_PRODUCTION_HISTORY) s.productionHistory.shift();
}

export function checkModelName(model: string): void {
  checkName('model', model, 'model');
}

export function checkAliasName(alias: string): void {
  checkName('alias', alias, 'alias');
}

function checkTraffic(model: string, t: TrafficPolicy): void {
  const problems = (['production', 'canary'] as const).flatMap((k) => {
    const v = t[k];
    if (!Number.isFinite(v) || v < 0 || v > 100)
      return [{ where: `traffic.${k}`, problem: `must be a percentage 0..100, got ${v}` }];
    if (Math.abs(v * 100 - Math.round(v * 100)) > 1e-6)
      return [
        { where: `traffic.${k}`, problem: `must have at most 2 decimals (routing has 10,000 buckets), got ${v}` },
      ];
    return [];
  });
  if (!problems.length && Math.abs(t.production + t.canary - 100) > 1e-6) {
    problems.push({ where: 'traffic', problem: `production + canary must be 100, got ${t.production} + ${t.canary}` });
  }
  if (problems.length) throw new ValidationError(`model ${model}: invalid traffic policy`, problems);
}
