/**
 * The shapes of the testbed's traffic: distributions of sizes and times, each with where its family and
 * parameters come from. Used by the scenarios (think times, typed words, uploaded photos), by the apps' pages
 * (the video player's bitrate ladder) and by the app logic (feeds, mails, video segments).
 *
 * A value is either a uniform integer range [lo, hi] (older scenarios) or a log-normal given by its median and
 * the standard deviation of its logarithm, clamped to [min, max]. Sizes of content and human timings are
 * right-skewed with long tails; a log-normal keeps the median where it is measured and gives the tail.
 */

export type Range = [number, number];

export interface LogNormal {
  lognormal: { median: number; sigma: number };
  min?: number;
  max?: number;
}

export type Dist = Range | LogNormal;

export function isDist(v: unknown): v is Dist {
  if (Array.isArray(v)) return v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0) && v[0] <= v[1];
  if (typeof v !== 'object' || v === null) return false;
  const l = (v as LogNormal).lognormal;
  const { min, max } = v as LogNormal;
  const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  return typeof l === 'object' && l !== null && num(l.median) && l.median > 0 && num(l.sigma) && (min === undefined || num(min)) && (max === undefined || num(max)) && (min ?? 0) <= (max ?? Infinity);
}

/** A standard normal draw (Box-Muller) from a uniform generator. */
export function normal(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(0) never
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** An integer drawn from `d`. */
export function draw(d: Dist, random: () => number): number {
  if (Array.isArray(d)) return d[0] + Math.floor(random() * (d[1] - d[0] + 1));
  const x = d.lognormal.median * Math.exp(d.lognormal.sigma * normal(random));
  return Math.round(Math.min(d.max ?? Infinity, Math.max(d.min ?? 0, x)));
}

/** A documented distribution. */
export interface Shape {
  dist: LogNormal;
  unit: string;
  source: string;
}

/**
 * The shapes the app logic and the shipped scenarios use. The families are those of the cited measurements; where
 * no single published number fits a testbed app, the parameters are chosen and say so.
 */
export const SHAPES = {
  thinkMs: {
    dist: { lognormal: { median: 2500, sigma: 0.8 }, min: 1200, max: 20_000 },
    unit: 'ms',
    source:
      'Time a user takes between two actions: heavy-tailed, as in web workload models (SURGE, Barford and Crovella, SIGMETRICS 1998, models user OFF times with a heavy tail); log-normal with a median of 2.5 s, chosen to keep runs short.',
  },
  photoUploadBytes: {
    dist: { lognormal: { median: 150_000, sigma: 0.5 }, min: 20_000, max: 2_000_000 },
    unit: 'bytes',
    source:
      'A photo as a social or messaging app uploads it: apps re-encode camera photos (several MB) to a long side of about 1,000 to 2,000 pixels before upload, which gives JPEGs of a few hundred kB at most; median and spread chosen to that.',
  },
  feedImageBytes: {
    dist: { lognormal: { median: 40_000, sigma: 1.0 }, min: 2_000, max: 1_500_000 },
    unit: 'bytes',
    source:
      "Images of a feed: the HTTP Archive's Web Almanac (Media chapter) measures image responses of tens of kB at the median with a tail past 1 MB; log-normal, median 40 kB, chosen to that shape.",
  },
  feedTextBytes: {
    dist: { lognormal: { median: 600, sigma: 0.9 }, min: 40, max: 20_000 },
    unit: 'bytes',
    source: 'Text of one feed post (JSON): short with a long tail; parameters chosen.',
  },
  feedPosts: {
    dist: { lognormal: { median: 6, sigma: 0.4 }, min: 2, max: 20 },
    unit: 'posts',
    source: 'Posts per feed page (real apps fetch pages of a few to a few tens); chosen.',
  },
  chatWords: {
    dist: { lognormal: { median: 5, sigma: 0.8 }, min: 1, max: 80 },
    unit: 'words',
    source: 'Words per instant message: mobile messages are short (a few words at the median) with a long tail of long messages; log-normal, parameters chosen.',
  },
  mailBodyBytes: {
    dist: { lognormal: { median: 10_000, sigma: 1.2 }, min: 500, max: 2_000_000 },
    unit: 'bytes',
    source: 'Size of a mail as a webmail client fetches it (HTML body, headers): log-normal, the usual family for e-mail and file sizes (heavy right tail); median 10 kB chosen.',
  },
  attachmentBytes: {
    dist: { lognormal: { median: 200_000, sigma: 1.0 }, min: 5_000, max: 8_000_000 },
    unit: 'bytes',
    source: 'An attachment opened with a mail (30 % of reads): log-normal, median 200 kB chosen.',
  },
  incomingChatSec: {
    dist: { lognormal: { median: 40, sigma: 0.9 }, min: 3, max: 600 },
    unit: 's',
    source: 'Time between messages the chat server pushes to a connected client (notifications while another app is in front): bursty, log-normal; chosen.',
  },
  videoSegmentsPerPlay: {
    dist: { lognormal: { median: 3, sigma: 0.4 }, min: 2, max: 8 },
    unit: 'segments',
    source: 'Segments fetched in one play action (a 6 s segment each, so about 20 s of video): how long a user watches before the next action; chosen to keep runs short.',
  },
} satisfies Record<string, Shape>;

/**
 * The video bitrate ladder (kbit/s) and segment length: Apple's HLS Authoring Specification for Apple Devices
 * (its example ladder, 145 to 7,800 kbit/s from 416x234 to 1920x1080; 6 s target segment duration). The player
 * (pages.ts) picks the highest rung (up to VIDEO_MAX_RUNG) under 80 % of the throughput it measured on the previous segment, as
 * throughput-based adaptive players do, starting on the 730 kbit/s rung; each segment's size varies around the
 * rung's bitrate (variable-bitrate encoding: log-normal, sigma 0.2, seeded by the video, rung and segment number).
 */
export const VIDEO_LADDER_KBPS = [145, 365, 730, 1100, 2000, 3000, 4500, 6000, 7800] as const;
export const VIDEO_SEGMENT_SEC = 6;
export const VIDEO_START_RUNG = 2;
/** Highest rung the testbed's player takes (960x540, 2,000 kbit/s: a phone's small player), which keeps captures small. */
export const VIDEO_MAX_RUNG = 4;
export const VIDEO_VBR_SIGMA = 0.2;

/** Bytes of segment `n` of a video at `rung`, from a generator seeded by the video, the rung and the segment. */
export function segmentBytes(rung: number, random: () => number): number {
  const kbps = VIDEO_LADDER_KBPS[Math.max(0, Math.min(VIDEO_LADDER_KBPS.length - 1, rung))];
  return Math.round(((kbps * 1000) / 8) * VIDEO_SEGMENT_SEC * Math.exp(VIDEO_VBR_SIGMA * normal(random)));
}

/** A 32-bit hash of a string (FNV-1a), to seed one generator per key. */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
