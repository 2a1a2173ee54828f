/**
 * .NET date formatting for binding expressions ({DateTime:yyyy/MM/dd}, {sys.UtcNow:o}): the
 * host formats with .NET's custom and standard format strings in the invariant culture, so a
 * path written for Azure must give the same blob name here. No npm package implements .NET's
 * format grammar (date libraries use their own tokens, where "dd" or "mm" mean other things), so
 * this is the small subset of it that paths use: every custom specifier, quoting and escapes, and
 * the invariant standard formats. Times are UTC (binding times are DateTime.UtcNow).
 */
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** The invariant culture's standard formats, as custom patterns. */
const STANDARD: Record<string, string> = {
  d: 'MM/dd/yyyy',
  D: 'dddd, dd MMMM yyyy',
  f: 'dddd, dd MMMM yyyy HH:mm',
  F: 'dddd, dd MMMM yyyy HH:mm:ss',
  g: 'MM/dd/yyyy HH:mm',
  G: 'MM/dd/yyyy HH:mm:ss',
  m: 'MMMM dd',
  M: 'MMMM dd',
  o: 'yyyy-MM-ddTHH:mm:ss.fffffffK',
  O: 'yyyy-MM-ddTHH:mm:ss.fffffffK',
  r: "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
  R: "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
  s: 'yyyy-MM-ddTHH:mm:ss',
  t: 'HH:mm',
  T: 'HH:mm:ss',
  u: "yyyy-MM-dd HH:mm:ss'Z'",
  U: 'dddd, dd MMMM yyyy HH:mm:ss',
  y: 'yyyy MMMM',
  Y: 'yyyy MMMM',
};

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export function formatDotNetDate(date: Date, format: string): string {
  const pattern = format.length === 1 ? STANDARD[format] : format;
  if (pattern === undefined) throw new Error(`"${format}" is not a .NET date format`);
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === "'" || c === '"') {
      const end = pattern.indexOf(c, i + 1);
      if (end < 0) throw new Error(`date format "${format}": unterminated quote`);
      out += pattern.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '\\') {
      out += pattern[i + 1] ?? '';
      i += 2;
      continue;
    }
    if (c === '%' && i + 1 < pattern.length) {
      i++;
      continue;
    }
    let n = 1;
    while (pattern[i + n] === c) n++;
    out += specifier(date, c, n) ?? pattern.slice(i, i + n);
    i += n;
  }
  return out;
}

function specifier(d: Date, c: string, n: number): string | undefined {
  const h = d.getUTCHours();
  switch (c) {
    case 'y': {
      const y = d.getUTCFullYear();
      return n === 1 ? String(y % 100) : n === 2 ? pad(y % 100, 2) : pad(y, n);
    }
    case 'M':
      return n === 1
        ? String(d.getUTCMonth() + 1)
        : n === 2
          ? pad(d.getUTCMonth() + 1, 2)
          : n === 3
            ? MONTHS[d.getUTCMonth()]!.slice(0, 3)
            : MONTHS[d.getUTCMonth()];
    case 'd':
      return n === 1
        ? String(d.getUTCDate())
        : n === 2
          ? pad(d.getUTCDate(), 2)
          : n === 3
            ? DAYS[d.getUTCDay()]!.slice(0, 3)
            : DAYS[d.getUTCDay()];
    case 'H':
      return n === 1 ? String(h) : pad(h, 2);
    case 'h':
      return n === 1 ? String(h % 12 || 12) : pad(h % 12 || 12, 2);
    case 'm':
      return n === 1 ? String(d.getUTCMinutes()) : pad(d.getUTCMinutes(), 2);
    case 's':
      return n === 1 ? String(d.getUTCSeconds()) : pad(d.getUTCSeconds(), 2);
    case 'f':
    case 'F': {
      // JavaScript keeps milliseconds; .NET's further digits are zeros.
      const digits = pad(d.getUTCMilliseconds(), 3).padEnd(7, '0').slice(0, Math.min(n, 7));
      return c === 'f' ? digits : digits.replace(/0+$/, '');
    }
    case 't':
      return (h < 12 ? 'AM' : 'PM').slice(0, n === 1 ? 1 : 2);
    case 'K':
      return 'Z';
    case 'z':
      return n === 1 ? '+0' : n === 2 ? '+00' : '+00:00';
    case 'g':
      return 'A.D.';
    default:
      return undefined;
  }
}
