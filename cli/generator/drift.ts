/**
 * Drift switches for the generator: `--drift amount=shift:0.5` moves every purchase amount up
 * by half the population's standard deviation of amounts, `scale:1.3` multiplies, and
 * `page=new:0.3` sends 30% of clicks to a page never seen before. Drift acts on the raw
 * fields of the sources, so the features computed from them (spend_7d, avg_order_30d, ...)
 * move with them. Parsed once at the edge; the generator takes the typed specs.
 */

export type DriftField = 'amount' | 'session_ms' | 'purchases' | 'page';

export type DriftSpec =
  | { field: 'amount' | 'session_ms'; kind: 'shift'; sigmas: number }
  | { field: 'amount' | 'session_ms' | 'purchases'; kind: 'scale'; factor: number }
  | { field: 'page'; kind: 'new'; share: number };

/** What each field accepts, for --help and errors. */
export const DRIFT_FIELDS: Readonly<Record<DriftField, string>> = {
  amount: 'purchase amount: shift:<standard deviations> or scale:<factor>',
  session_ms: 'click session length: shift:<standard deviations> or scale:<factor>',
  purchases: 'share of events that are purchases: scale:<factor>',
  page: 'clicked page: new:<share of clicks on a page never seen before>',
};

/** The new page drift sends clicks to. */
export const DRIFT_PAGE = '/new-landing';

/** Parse `field=kind:value`; throws an Error whose message names the problem and the accepted forms. */
export function parseDrift(text: string): DriftSpec {
  const m = /^([a-z_]+)=(shift|scale|new):(-?\d+(?:\.\d+)?)$/.exec(text.trim());
  const forms = Object.entries(DRIFT_FIELDS)
    .map(([f, what]) => `${f} (${what})`)
    .join('; ');
  if (!m) throw new Error(`"${text}" is not field=shift:<n>, field=scale:<n> or field=new:<share>; fields: ${forms}`);
  const [, field, kind, raw] = m as unknown as [string, string, string, string];
  const value = Number(raw);
  if (!(field in DRIFT_FIELDS)) throw new Error(`"${field}" cannot drift; fields: ${forms}`);
  const f = field as DriftField;
  if (kind === 'shift' && (f === 'amount' || f === 'session_ms')) return { field: f, kind, sigmas: value };
  if (kind === 'scale' && f !== 'page') {
    if (!(value > 0)) throw new Error(`"${text}": a scale factor must be above 0`);
    return { field: f, kind, factor: value };
  }
  if (kind === 'new' && f === 'page') {
    if (!(value >= 0 && value <= 1)) throw new Error(`"${text}": the share of new pages must be between 0 and 1`);
    return { field: f, kind, share: value };
  }
  throw new Error(`"${text}": ${f} takes ${DRIFT_FIELDS[f]}`);
}
