/**
 * Time-series charts. The library is uPlot: ~50 KB minified, canvas drawing that keeps up
 * with tens of thousands of points per chart, and made for exactly this (time on x, a few
 * series on y). Observable Plot needs d3 (several times the size) and draws SVG nodes per
 * mark, which gets slow for long series; ECharts does everything but weighs ~1 MB.
 *
 * Each chart container carries data-series / data-points (non-null values drawn), so a
 * test or a script can tell an empty chart from a drawn one.
 */
import uPlot from 'uplot';
import { h } from './dom';

export interface Series {
  label: string;
  values: Array<number | null>;
  color?: string;
  dash?: boolean;
}

export interface ChartSpec {
  title: string;
  /** Epoch ms, one per value (or plain numbers with `x: 'number'`, e.g. iterations). */
  times: number[];
  /** What x is: times (default) or plain numbers (iterations of a loss curve). */
  x?: 'time' | 'number';
  series: Series[];
  unit?: string;
  height?: number;
  /** Width in px (the panel's width, or a share of it). */
  width: number;
}

const PALETTE = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#dc2626', '#0891b2', '#ca8a04', '#4b5563'];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

export function lineChart(parent: HTMLElement, spec: ChartSpec): HTMLElement {
  const points = spec.series.reduce((n, s) => n + s.values.filter((v) => v !== null && Number.isFinite(v)).length, 0);
  const box = h('div', {
    class: 'chart',
    'data-chart': spec.title,
    'data-series': spec.series.length,
    'data-points': points,
  });
  parent.appendChild(box);
  if (spec.series.length === 0 || spec.times.length === 0) {
    box.appendChild(h('p', { class: 'empty' }, `${spec.title}: no data in this range`));
    return box;
  }
  const width = Math.max(240, Math.floor(spec.width));
  const unit = spec.unit ?? '';
  const opts: uPlot.Options = {
    title: spec.title,
    width,
    height: spec.height ?? 200,
    scales: { x: { time: spec.x !== 'number' } },
    axes: [{}, { values: (_u, ticks) => ticks.map((t) => `${+t.toFixed(3)}${unit ? ` ${unit}` : ''}`), size: 70 }],
    series: [
      {},
      ...spec.series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? color(i),
        width: 2,
        spanGaps: false,
        ...(s.dash ? { dash: [6, 4] } : {}),
        points: { show: s.values.filter((v) => v !== null).length < 40 },
        value: (_u: uPlot, v: number | null) => (v === null ? '–' : `${+v.toFixed(3)}${unit ? ` ${unit}` : ''}`),
      })),
    ],
    legend: { show: true },
  };
  const data = [
    spec.x === 'number' ? spec.times : spec.times.map((t) => t / 1000),
    ...spec.series.map((s) => s.values),
  ] as uPlot.AlignedData;
  new uPlot(opts, data, box);
  return box;
}
