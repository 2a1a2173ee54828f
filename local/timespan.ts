/**
 * host.json writes durations as .NET TimeSpans ("00:00:30", "1.00:00:00", "00:00:00.500"); the
 * host's settings are read with this one parser.
 */
export function timeSpanMs(s: string, what = 'value'): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/.exec(s.trim());
  if (!m) throw new Error(`host.json ${what}: "${s}" is not a time span like 00:00:30`);
  const [, d, h, min, sec, frac] = m;
  return (
    ((Number(d ?? 0) * 24 + Number(h)) * 3600 + Number(min) * 60 + Number(sec)) * 1000 +
    Math.round(Number(`0.${frac ?? '0'}`) * 1000)
  );
}

/** host.json functionTimeout in ms: undefined when unset, Infinity for "-1" (Azure's "no limit"); a bad value throws. */
export function functionTimeoutMs(hostJson: { functionTimeout?: string }): number | undefined {
  const limit = hostJson.functionTimeout;
  if (limit === undefined) return undefined;
  if (limit.trim() === '-1') return Infinity;
  const ms = timeSpanMs(limit, 'functionTimeout');
  if (!(ms > 0))
    throw new Error(`host.json functionTimeout: "${limit}" must be longer than 00:00:00 (or -1 for no limit)`);
  return ms;
}
