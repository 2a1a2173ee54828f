/**
 * "Did you mean" for names in error messages.
 *
 *   didYouMean('user_purchase', ['user_clicks', 'user_purchases']) -> ' (did you mean "user_purchases"?)'
 *   known(['a', 'b']) -> 'known: a, b'
 */

/** A hint naming the closest candidate, or '' when none is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(name.length / 3));
  return best !== undefined && bestDistance <= limit ? ` (did you mean "${best}"?)` : '';
}

/** The list of valid names, for the end of a message. */
export function known(candidates: Iterable<string>): string {
  const list = [...candidates];
  return list.length ? `known: ${list.join(', ')}` : 'none are defined';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
