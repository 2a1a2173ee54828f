/**
 * `strata alerts [list|rules]`: monitoring's alerts (GET /api/alerts, open ones by default)
 * and the rules in force (GET /api/alerts/rules). `--json` prints the API's answer as is.
 */
import type { CommandSpec } from '../core/command';
import { UsageError } from '../core/errors';
import { table } from '../core/output';

interface Alert {
  ruleId: string;
  subject: string;
  status: string;
  severity: string;
  metric: string;
  value: number;
  at: number;
  openedAt?: number;
  resolvedAt?: number;
  delivered: boolean;
  message: string;
}

interface Rule {
  id: string;
  metric: string;
  subject?: string;
  model?: string;
  view?: string;
  comparison: string;
  threshold: number;
  for: number;
  severity: string;
  action: string;
}

const iso = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString().replace('.000Z', 'Z'));
const STATES = ['open', 'resolved', 'all'];

const list: CommandSpec = {
  name: 'list',
  summary: 'alerts, open ones unless --state says otherwise',
  options: { state: { type: 'string', value: '<open|resolved|all>', description: 'which alerts (default open)' } },
  examples: ['npx strata alerts', 'npx strata alerts --state all --json'],
  async run(ctx) {
    const state = ctx.string('state') ?? 'open';
    if (!STATES.includes(state)) throw new UsageError(`--state must be one of ${STATES.join(', ')}, got ${state}`);
    const r = await ctx.api.json<{ alerts: Alert[] }>('GET', `/api/alerts${state === 'all' ? '' : `?state=${state}`}`);
    ctx.out.result(r, () =>
      r.alerts.length
        ? table(r.alerts, [
            { title: 'status', value: (a) => a.status },
            { title: 'severity', value: (a) => a.severity },
            { title: 'rule', value: (a) => a.ruleId },
            { title: 'subject', value: (a) => a.subject },
            { title: 'value', value: (a) => Number(a.value.toPrecision(4)) },
            { title: 'window', value: (a) => iso(a.at) },
            { title: 'opened', value: (a) => iso(a.openedAt) },
            { title: 'resolved', value: (a) => iso(a.resolvedAt) },
            { title: 'delivered', value: (a) => (a.delivered ? 'yes' : 'pending') },
          ])
        : [`no ${state === 'all' ? '' : `${state} `}alerts`],
    );
  },
};

const rules: CommandSpec = {
  name: 'rules',
  summary: 'the alert rules in force (defaults, model definitions, added through the API)',
  examples: ['npx strata alerts rules'],
  async run(ctx) {
    const r = await ctx.api.json<{ rules: Rule[] }>('GET', '/api/alerts/rules');
    ctx.out.result(r, () =>
      table(r.rules, [
        { title: 'rule', value: (x) => x.id },
        {
          title: 'when',
          value: (x) =>
            `${x.metric}${x.subject ? `[${x.subject}]` : ''} ${x.comparison} ${x.threshold}${x.for > 1 ? ` for ${x.for}` : ''}`,
        },
        { title: 'scope', value: (x) => x.model ?? x.view ?? 'all' },
        { title: 'severity', value: (x) => x.severity },
        { title: 'action', value: (x) => x.action },
      ]),
    );
  },
};

export const alertsCommand: CommandSpec = {
  name: 'alerts',
  summary: 'monitoring alerts (open by default) and the rules that raise them',
  subcommands: [list, rules],
};
