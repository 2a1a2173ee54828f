/**
 * Progress of long work (producing events, uploading a file, a backfill, a download): a bar
 * with the rate and the ETA (cli-progress) when stderr is a terminal, else a plain line every
 * few seconds and one at the end, so logs of scripts and CI stay readable.
 */
import { SingleBar } from 'cli-progress';
import { formatBytes, formatDuration, type Output } from './output';

export interface ProgressOptions {
  title: string;
  /** 0 when not known yet (setTotal later). */
  total: number;
  /** What is counted: 'events', 'intervals'; 'bytes' formats values as sizes. */
  unit: string;
  /** Plain mode: at most one line per this many ms (default 2000). */
  everyMs?: number;
}

export interface Progress {
  update(value: number, extra?: string): void;
  setTotal(total: number): void;
  /** Say something while the work goes on: in the bar's line on a terminal (a line of its own would break the bar), else a line. */
  message(text: string): void;
  /** Print the final state and release the terminal line. */
  stop(extra?: string): void;
}

export function startProgress(out: Output, o: ProgressOptions, now: () => number = Date.now): Progress {
  const started = now();
  let total = o.total;
  let value = 0;
  let extra = '';
  const amount = (n: number) => (o.unit === 'bytes' ? formatBytes(n) : `${Math.round(n).toLocaleString('en-US')}`);
  const unitText = o.unit === 'bytes' ? '' : ` ${o.unit}`;
  const rate = () => {
    const s = (now() - started) / 1000;
    if (!(s > 0)) return '-';
    const r = value / s;
    return `${o.unit === 'bytes' ? formatBytes(r) : r < 10 ? r.toFixed(1) : amount(r)}${unitText}/s`;
  };
  const payload = () => ({
    done: amount(value),
    all: total ? amount(total) : '?',
    rate: rate(),
    extra: extra ? ` ${extra}` : '',
  });

  if (out.interactive) {
    const bar = new SingleBar({
      stream: out.errorStream as NodeJS.WriteStream,
      format: `${o.title} [{bar}] {percentage}% | {done}/{all}${unitText} | {rate} | ETA {eta_formatted}{extra}`,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 30,
      fps: 5,
      barsize: 24,
    });
    bar.start(Math.max(total, 1), 0, payload());
    return {
      update(v, e) {
        value = v;
        if (e !== undefined) extra = e;
        bar.update(v, payload());
      },
      setTotal(t) {
        total = t;
        bar.setTotal(Math.max(t, 1));
      },
      message(text) {
        extra = text;
        bar.update(value, payload());
      },
      stop(e) {
        if (e !== undefined) extra = e;
        bar.update(value, payload());
        bar.stop();
      },
    };
  }

  const everyMs = o.everyMs ?? 2000;
  let lastLine = 0;
  let printed = '';
  const line = () => {
    const pct = total ? ` (${Math.floor((100 * value) / total)}%)` : '';
    const elapsed = now() - started;
    const eta =
      total && value > 0 && value < total ? `, ETA ${formatDuration((elapsed / value) * (total - value))}` : '';
    printed = `${value}/${total}/${extra}`;
    out.note(
      `${o.title}: ${amount(value)}/${total ? amount(total) : '?'}${unitText}${pct}, ${rate()}${eta}, ${formatDuration(elapsed)} elapsed${extra ? `; ${extra}` : ''}`,
    );
  };
  return {
    update(v, e) {
      value = v;
      if (e !== undefined) extra = e;
      if (now() - lastLine >= everyMs) {
        lastLine = now();
        line();
      }
    },
    setTotal(t) {
      total = t;
    },
    message(text) {
      out.note(`${o.title}: ${text}`);
    },
    stop(e) {
      if (e !== undefined) extra = e;
      if (printed !== `${value}/${total}/${extra}`) line();
    },
  };
}
