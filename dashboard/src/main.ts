/**
 * The dashboard shell: takes the key (api.ts), draws the page tabs from the registry, and
 * renders the current page's panels (hash routes: #/overview, #/models, ...). Live panels
 * re-render on their interval while their page is open.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import 'strata:panels';
import { adoptKeyFromUrl, api, keys, MissingKeyError } from './api';
import { allPages, panelsOf, type PanelDef } from './registry';
import { clear, h } from './dom';

let leave: AbortController | undefined;

function currentPage(): string {
  const id = location.hash.replace(/^#\/?/, '').split('?')[0] || '';
  const pages = allPages();
  return pages.some((p) => p.id === id) ? id : pages[0]!.id;
}

function go(page: string): void {
  location.hash = `#/${page}`;
}

function keyForm(app: HTMLElement, reason: string): void {
  clear(app);
  const input = h('input', {
    type: 'password',
    name: 'key',
    placeholder: 'function key',
    autocomplete: 'off',
    'aria-label': 'function key',
  });
  app.appendChild(
    h(
      'form',
      {
        class: 'key-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          if (input.value.trim()) keys.setFunction(input.value.trim());
          render();
        },
      },
      h('h1', {}, 'Strata'),
      h('p', {}, reason),
      h(
        'p',
        { class: 'hint' },
        'Open the dashboard as …/dashboard?code=<function key> once, or enter the key here. It is kept for this tab only.',
      ),
      input,
      h('button', { type: 'submit' }, 'Open'),
    ),
  );
}

/** Render a panel into a fresh element and swap it in when done (no flicker on refresh). */
async function renderPanel(
  def: PanelDef,
  section: HTMLElement,
  current: HTMLElement,
  signal: AbortSignal,
  refresh: boolean,
  rerender: () => void,
): Promise<HTMLElement> {
  section.classList.add('loading');
  try {
    const fresh = h('div', { class: 'panel-body' });
    await def.render({
      body: fresh,
      api,
      signal,
      refresh,
      go,
      rerender,
      width: Math.max(300, section.clientWidth - 32),
    });
    if (signal.aborted) return current;
    current.replaceWith(fresh);
    section.dataset.state = 'ready';
    section.querySelector('.panel-error')?.remove();
    return fresh;
  } catch (e) {
    if (signal.aborted || e instanceof MissingKeyError) throw e;
    section.dataset.state = 'error';
    section.querySelector('.panel-error')?.remove();
    section.appendChild(h('p', { class: 'panel-error' }, (e as Error).message));
    return current;
  } finally {
    section.classList.remove('loading');
  }
}

function render(): void {
  const app = document.getElementById('app')!;
  leave?.abort();
  if (!keys.function()) return keyForm(app, "This dashboard reads Strata's APIs with the function key.");
  leave = new AbortController();
  const { signal } = leave;
  const page = currentPage();
  clear(app);
  const nav = h(
    'nav',
    {},
    h('span', { class: 'brand' }, 'Strata'),
    ...allPages().map((p) =>
      h('a', { href: `#/${p.id}`, class: p.id === page ? 'active' : '', 'data-page': p.id }, p.title),
    ),
    h('span', { class: 'spacer' }),
    h('button', { type: 'button', class: 'link', onclick: () => render() }, 'Refresh'),
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: () => {
          keys.forget();
          render();
        },
      },
      'Forget key',
    ),
  );
  const main = h('main', { 'data-page': page });
  app.append(nav, main);
  for (const def of panelsOf(page)) {
    let body: HTMLElement = h('div', { class: 'panel-body' });
    const section = h(
      'section',
      { class: `panel${def.wide ? ' wide' : ''}`, 'data-panel': def.id, 'data-state': 'loading' },
      h('h2', {}, def.title),
      body,
    );
    main.appendChild(section);
    const run = async (refresh: boolean) => {
      try {
        body = await renderPanel(def, section, body, signal, refresh, () => void run(true));
      } catch (e) {
        if (e instanceof MissingKeyError && !signal.aborted) {
          leave?.abort();
          keys.forget();
          keyForm(app, 'The key was refused. Enter the function key.');
        }
      }
    };
    void run(false).then(() => {
      if (!def.refreshMs || signal.aborted) return;
      const timer = setInterval(() => void run(true), def.refreshMs);
      signal.addEventListener('abort', () => clearInterval(timer));
    });
  }
}

adoptKeyFromUrl();
window.addEventListener('hashchange', render);
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', render);
else render();
