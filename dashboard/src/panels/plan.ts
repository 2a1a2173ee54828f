/**
 * Plan page: what is stale, missing or incomplete per view and day (GET /api/plan), and the
 * backfills that would fix it, each with a button that starts it (POST /api/backfills with
 * the admin key, asked for here and kept for this tab).
 */
import { definePage, definePanel } from '../registry';
import { badge, empty, fmtAge, fmtTime, h, table } from '../dom';
import { ApiError, MissingKeyError, keys } from '../api';
import type { Plan } from '../types';

definePage({ id: 'plan', title: 'Plan', order: 50 });

definePanel({
  page: 'plan',
  id: 'plan',
  title: 'Freshness plan',
  order: 10,
  wide: true,
  async render(ctx) {
    const plan = await ctx.api.get<Plan>('plan', ctx.signal);
    ctx.body.append(h('p', { class: 'hint' }, `Computed ${fmtTime(plan.generatedAt)} from the interval ledger.`));
    ctx.body.append(
      table(
        ['view', 'state', 'lag', 'complete', 'incomplete', 'pending', 'missing', 'stale'],
        plan.views.map((v) => [
          h('strong', {}, v.view),
          v.watermark === null
            ? badge('not computed', 'muted')
            : v.caughtUp
              ? badge('caught up', 'ok')
              : badge('behind', 'warn'),
          fmtAge(v.lagMs),
          v.days.complete,
          v.days.incomplete,
          v.days.pending,
          v.days.missing,
          v.days.stale,
        ]),
        { 'data-table': 'plan-views' },
      ),
    );

    ctx.body.append(h('h3', {}, 'Backfills that would fix it'));
    if (!plan.backfills.length) ctx.body.append(empty('Nothing to do: every view is complete and fresh.'));
    else {
      const out = h('div', { class: 'result', 'data-result': 'backfills', role: 'status' });
      const admin = h('input', {
        type: 'password',
        name: 'admin-key',
        placeholder: 'admin key',
        autocomplete: 'off',
        'aria-label': 'admin key',
        value: keys.admin() ?? '',
      });
      const start = async (b: Plan['backfills'][number], button: HTMLButtonElement) => {
        if (!admin.value.trim()) return void (out.textContent = 'Enter the admin key to start backfills.');
        keys.setAdmin(admin.value.trim());
        button.disabled = true;
        try {
          const r = await ctx.api.postAdmin<{ id: string; status: string }>('backfills', {
            views: b.views,
            from: b.from,
            to: b.to,
          });
          out.replaceChildren(
            `Backfill ${r.status}: `,
            h('code', {}, r.id),
            ' — ',
            h('a', { href: '#/jobs' }, 'follow it on the Jobs page'),
          );
        } catch (e) {
          button.disabled = false;
          out.textContent =
            e instanceof MissingKeyError ? 'The admin key was refused.' : e instanceof ApiError ? e.message : String(e);
        }
      };
      ctx.body.append(
        h('p', {}, admin),
        table(
          ['views', 'from', 'to', 'days', ''],
          plan.backfills.map((b) => {
            const button = h('button', { type: 'button', class: 'primary', 'data-action': 'start-backfill' }, 'Start');
            button.addEventListener('click', () => void start(b, button));
            return [b.views.join(', '), fmtTime(b.from), fmtTime(b.to), b.days, button];
          }),
          { 'data-table': 'plan-backfills' },
        ),
        out,
      );
    }

    ctx.body.append(h('h3', {}, 'Work by day'));
    ctx.body.append(
      plan.work.length
        ? table(
            ['view', 'day', 'kind', 'reason'],
            plan.work.map((w) => [
              w.view,
              w.day,
              badge(w.kind, w.kind === 'stale' || w.kind === 'incomplete' ? 'warn' : 'bad'),
              w.reason,
            ]),
            { 'data-table': 'plan-work' },
          )
        : empty('No stale, missing or incomplete days.'),
    );
  },
});
