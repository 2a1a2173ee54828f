/**
 * `strata models [list|show|register|alias|traffic|promote|rollback]`: the model registry and
 * traffic between versions (the /api/models routes, admin key).
 */
import fs from 'node:fs';
import type { CommandSpec } from '../core/command';
import { UsageError } from '../core/errors';
import { table } from '../core/output';

interface ModelState {
  model: string;
  latestVersion: number;
  aliases: Record<string, number>;
  traffic: { production: number; canary: number };
  productionHistory: number[];
}

interface ModelVersion {
  version: number;
  description?: string;
  createdAt: number;
  artifact: { bytes: number; sha256: string };
}

const model = { name: 'model', required: true };
const path = (m: string, rest = '') => `/api/models/${encodeURIComponent(m)}${rest}`;

function stateLines(s: ModelState): string[] {
  const aliases =
    Object.entries(s.aliases)
      .map(([a, v]) => `${a}=v${v}`)
      .join(', ') || 'none';
  return [
    `${s.model}: latest v${s.latestVersion}; aliases ${aliases}; traffic production ${s.traffic.production}% / canary ${s.traffic.canary}%`,
  ];
}

const list: CommandSpec = {
  name: 'list',
  summary: 'every model with its aliases and traffic',
  async run(ctx) {
    const r = await ctx.api.json<{ models: ModelState[] }>('GET', '/api/models', { key: 'admin' });
    ctx.out.result(r, () =>
      r.models.length
        ? table(r.models, [
            { title: 'model', value: (m) => m.model },
            { title: 'latest', value: (m) => `v${m.latestVersion}` },
            {
              title: 'aliases',
              value: (m) =>
                Object.entries(m.aliases)
                  .map(([a, v]) => `${a}=v${v}`)
                  .join(', '),
            },
            { title: 'traffic', value: (m) => `${m.traffic.production}/${m.traffic.canary}` },
          ])
        : 'no models registered (npx strata models register <model> <file.onnx> --signature <signature.json>)',
    );
  },
};

const show: CommandSpec = {
  name: 'show',
  summary: 'one model: its state, versions and history',
  positionals: [model],
  async run(ctx) {
    const r = await ctx.api.json<{ model: ModelState; versions: ModelVersion[] }>('GET', path(ctx.positionals[0]!), {
      key: 'admin',
    });
    ctx.out.result(r, () => [
      ...stateLines(r.model),
      ...table(r.versions, [
        { title: 'version', value: (v) => `v${v.version}` },
        { title: 'created', value: (v) => new Date(v.createdAt).toISOString() },
        { title: 'bytes', value: (v) => v.artifact.bytes, align: 'right' },
        { title: 'description', value: (v) => v.description ?? '' },
      ]),
    ]);
  },
};

const register: CommandSpec = {
  name: 'register',
  summary: 'register an ONNX file as a new version (checked by running it against its signature)',
  positionals: [model, { name: 'file.onnx', required: true }],
  options: {
    signature: {
      type: 'string',
      value: '<signature.json>',
      description: 'the signature: features in input order, outputs, missing-value policy (required)',
    },
    alias: {
      type: 'string',
      value: '<alias>',
      description: 'point this alias at the new version (production, canary, shadow)',
    },
    description: { type: 'string', value: '<text>', description: 'what this version is' },
    tag: { type: 'string', multiple: true, value: '<key=value>', description: 'a tag' },
  },
  examples: ['npx strata models register churn churn.onnx --signature examples/signature.json --alias production'],
  async run(ctx) {
    const [name, file] = ctx.positionals as [string, string];
    const signatureFile = ctx.required('signature');
    const read = (f: string, what: string) => {
      try {
        return fs.readFileSync(f);
      } catch (e) {
        throw new UsageError(`cannot read ${what} ${f}: ${(e as Error).message}`);
      }
    };
    let signature: unknown;
    try {
      signature = JSON.parse(read(signatureFile, 'the signature').toString('utf8'));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${signatureFile} is not JSON: ${(e as Error).message}`);
    }
    const tags = Object.fromEntries(
      ctx.strings('tag').map((t) => {
        const eq = t.indexOf('=');
        if (eq <= 0) throw new UsageError(`--tag must be key=value, got "${t}"`);
        return [t.slice(0, eq), t.slice(eq + 1)];
      }),
    );
    const r = await ctx.api.json<{ version: ModelVersion; created: boolean; model: ModelState }>(
      'POST',
      path(name, '/versions'),
      {
        key: 'admin',
        json: {
          onnxBase64: read(file, 'the model').toString('base64'),
          signature,
          ...(ctx.string('description') !== undefined ? { description: ctx.string('description') } : {}),
          ...(Object.keys(tags).length ? { tags } : {}),
          ...(ctx.string('alias') !== undefined ? { alias: ctx.string('alias') } : {}),
        },
      },
    );
    ctx.out.result(r, () => [
      `${r.created ? 'registered' : 'already registered as'} ${name} v${r.version.version}`,
      ...stateLines(r.model),
    ]);
  },
};

const alias: CommandSpec = {
  name: 'alias',
  summary: 'point an alias (production, canary, shadow...) at a version, or remove it with "none"',
  positionals: [model, { name: 'alias', required: true }, { name: 'version|none', required: true }],
  examples: ['npx strata models alias churn canary 4', 'npx strata models alias churn shadow none'],
  async run(ctx) {
    const [name, a, v] = ctx.positionals as [string, string, string];
    const version = v === 'none' ? null : Number(v.replace(/^v/, ''));
    if (version !== null && !(Number.isInteger(version) && version > 0))
      throw new UsageError(`version must be a version number (4 or v4) or none, got "${v}"`);
    const r = await ctx.api.json<{ model: ModelState }>('POST', path(name, '/aliases'), {
      key: 'admin',
      json: { alias: a, version },
    });
    ctx.out.result(r, () => stateLines(r.model));
  },
};

const traffic: CommandSpec = {
  name: 'traffic',
  summary: 'split live traffic between production and canary',
  positionals: [model],
  options: {
    canary: {
      type: 'string',
      value: '<percent>',
      description: "the canary's share, 0-100 (production takes the rest; required)",
    },
  },
  examples: ['npx strata models traffic churn --canary 10'],
  async run(ctx) {
    const canary = ctx.number('canary', NaN, { min: 0, max: 100 });
    if (Number.isNaN(canary)) throw new UsageError('--canary is required');
    const r = await ctx.api.json<{ model: ModelState }>('POST', path(ctx.positionals[0]!, '/traffic'), {
      key: 'admin',
      json: { production: 100 - canary, canary },
    });
    ctx.out.result(r, () => stateLines(r.model));
  },
};

/** A POST to the model's route with no body, answering its new state. */
const modelAction = (name: string, summary: string): CommandSpec => ({
  name,
  summary,
  positionals: [model],
  async run(ctx) {
    const r = await ctx.api.json<{ model: ModelState }>('POST', path(ctx.positionals[0]!, `/${name}`), {
      key: 'admin',
    });
    ctx.out.result(r, () => stateLines(r.model));
  },
});

const promote = modelAction(
  'promote',
  'make the canary production (the canary alias goes, traffic back to 100% production)',
);
const rollback = modelAction('rollback', 'put the previous production version back');

export const modelsCommand: CommandSpec = {
  name: 'models',
  summary: 'the model registry: list, show, register, alias, traffic, promote, rollback',
  subcommands: [list, show, register, alias, traffic, promote, rollback],
};
