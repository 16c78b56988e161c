/**
 * IP addresses as four 32-bit words, so the hot path compares and hashes numbers and formats text only when a
 * record is written. IPv4 uses the last word and leaves the others 0; the IP version tells them apart.
 */

export function ipv4Text(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** RFC 5952 text: lower case, longest run (>= 2) of zero groups shortened to `::`, IPv4-mapped kept dotted. */
export function ipv6Text(w0: number, w1: number, w2: number, w3: number): string {
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${ipv4Text(w3 >>> 0)}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

export function addrText(version: number, w0: number, w1: number, w2: number, w3: number): string {
  return version === 4 ? ipv4Text(w3) : ipv6Text(w0, w1, w2, w3);
}

/** Parse IPv4 or IPv6 text into [version, w0, w1, w2, w3]; undefined if it is not an address. */
export function parseAddr(text: string): [number, number, number, number, number] | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) return undefined;
    return [4, 0, 0, 0, ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0];
  }
  if (!text.includes(':')) return undefined;
  let s = text;
  let tail: number[] = [];
  const dotted = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (dotted) {
    const b = dotted.slice(1).map(Number);
    if (b.some((x) => x > 255)) return undefined;
    tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    s = s.slice(0, s.length - dotted[0].length) + (s.endsWith('::' + dotted[0]) ? '' : '');
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const part = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const x of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(x)) return undefined;
      out.push(parseInt(x, 16));
    }
    return out;
  };
  const head = part(halves[0]);
  const rest = halves.length === 2 ? part(halves[1]) : [];
  if (head === undefined || rest === undefined) return undefined;
  const given = head.length + rest.length + tail.length;
  let groups: number[];
  if (halves.length === 2) {
    if (given > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
  } else {
    if (given !== 8) return undefined;
    groups = [...head, ...tail];
  }
  const w = (i: number) => ((groups[i] << 16) | groups[i + 1]) >>> 0;
  return [6, w(0), w(2), w(4), w(6)];
}
