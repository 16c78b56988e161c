import { mulberry32 } from '../common/rng.js';
import { NaiveBayes } from './bayes.js';

/**
 * A documented simulation for the trait models, since no public data ties traffic to traits: how well naive Bayes
 * tells a user's age group from the apps of the user's streams, against the number of streams per user, with the
 * apps as the classifier saw them (each stream's true app replaced by a draw from the real confusion matrix of the
 * app model, when one is given) or as they were.
 *
 * Population: two age groups, half each, as in Pew Research Center, "Social Media Use in 2021" (Auxier and
 * Anderson, April 2021; 1,502 U.S. adults): the share of adults 18-29 and 65+ who use a platform. Each testbed app
 * stands for the platform it imitates:
 *   Video  = YouTube    95% of 18-29, 49% of 65+
 *   Social = Instagram  71%, 13%
 *   Chat   = Snapchat   65%, 2%   (the messaging platform the survey splits by age)
 *   Mail   = no platform in the survey: 80% in both groups (an assumption that carries no age signal)
 * A simulated user adopts each app with the probability of the user's group (a user who adopts none is drawn
 * again), and each stream comes from one of the adopted apps, uniformly.
 */
export const AGE_GROUPS = ['18-29', '65+'] as const;
export const APP_ADOPTION: Record<string, [number, number]> = {
  Video: [0.95, 0.49],
  Social: [0.71, 0.13],
  Chat: [0.65, 0.02],
  Mail: [0.8, 0.8],
};

export interface Confusion {
  /** Class names of rows (true) and columns (predicted). */
  classes: string[];
  matrix: number[][];
}

export interface SimulationOptions {
  /** Users of each of the training and test populations. */
  users: number;
  streamsPerUser: number[];
  seed: number;
  confusion?: Confusion;
}

export const SIMULATION_DEFAULTS: SimulationOptions = { users: 300, streamsPerUser: [1, 2, 3, 5, 10, 20, 50, 100], seed: 1 };

export interface CurvePoint {
  streams: number;
  /** Age-group accuracy on the test population with the true apps, and with the classifier's apps. */
  accuracyTrue: number;
  accuracyClassified: number | null;
  /** Mean posterior of the predicted group (true apps): how sure the model is about a cluster of this many streams. */
  confidenceTrue: number;
}

function drawUser(r: () => number): { age: number; apps: string[] } {
  const age = r() < 0.5 ? 0 : 1;
  for (;;) {
    const apps = Object.keys(APP_ADOPTION).filter((a) => r() < APP_ADOPTION[a][age]);
    if (apps.length > 0) return { age, apps };
  }
}

function pick(r: () => number, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let x = r() * total;
  for (let i = 0; i < weights.length; i++) if ((x -= weights[i]) < 0) return i;
  return weights.length - 1;
}

/** As the classifier reports it: a draw from the confusion row of the true app (unchanged when the app is not in it). */
function observed(app: string, r: () => number, c?: Confusion): string {
  if (!c) return app;
  const row = c.classes.indexOf(app);
  if (row < 0) return app;
  return c.classes[pick(r, c.matrix[row])];
}

/** Users and their streams from `r`; the classifier's errors from `noise`, so both curves see the same users. */
function population(n: number, k: number, r: () => number, noise: () => number, c?: Confusion): Array<{ age: string; tokens: Map<string, number> }> {
  return Array.from({ length: n }, () => {
    const u = drawUser(r);
    const tokens = new Map<string, number>();
    for (let s = 0; s < k; s++) {
      const app = observed(u.apps[Math.floor(r() * u.apps.length)], noise, c);
      tokens.set(`app:${app}`, (tokens.get(`app:${app}`) ?? 0) + 1);
    }
    return { age: AGE_GROUPS[u.age], tokens };
  });
}

function accuracy(k: number, o: SimulationOptions, c: Confusion | undefined, seed: number): { accuracy: number; confidence: number } {
  const r = mulberry32(seed);
  const noise = mulberry32(seed ^ 0x9e3779b9);
  const train = population(o.users, k, r, noise, c);
  const test = population(o.users, k, r, noise, c);
  const nb = NaiveBayes.fit('age_group', train.map((u) => ({ tokens: u.tokens, value: u.age })));
  let right = 0;
  let sure = 0;
  for (const u of test) {
    const p = nb.predict(u.tokens);
    const [best, prob] = Object.entries(p).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
    if (best === u.age) right++;
    sure += prob;
  }
  return { accuracy: right / test.length, confidence: sure / test.length };
}

/** Accuracy against streams per user, each point the mean over 5 seeded populations. */
export function learningCurve(options: Partial<SimulationOptions> = {}): CurvePoint[] {
  const o = { ...SIMULATION_DEFAULTS, ...options };
  const reps = 5;
  const mean = (f: (rep: number) => number) => Array.from({ length: reps }, (_, i) => f(i)).reduce((a, b) => a + b, 0) / reps;
  return o.streamsPerUser.map((k) => ({
    streams: k,
    accuracyTrue: mean((i) => accuracy(k, o, undefined, o.seed * 1000 + i).accuracy),
    accuracyClassified: o.confusion ? mean((i) => accuracy(k, o, o.confusion, o.seed * 1000 + i).accuracy) : null,
    confidenceTrue: mean((i) => accuracy(k, o, undefined, o.seed * 1000 + i).confidence),
  }));
}

export function curveMarkdown(points: readonly CurvePoint[]): string {
  const head = ['streams per user', ...points.map((p) => String(p.streams))];
  const rows = [['age group accuracy, true apps', ...points.map((p) => (100 * p.accuracyTrue).toFixed(1))]];
  if (points.some((p) => p.accuracyClassified !== null)) rows.push(['age group accuracy, classified apps', ...points.map((p) => (p.accuracyClassified === null ? '' : (100 * p.accuracyClassified).toFixed(1)))]);
  rows.push(['mean posterior of the predicted group, true apps', ...points.map((p) => (100 * p.confidenceTrue).toFixed(1))]);
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n';
}

/** The curve as a self-contained SVG line chart (log-scaled streams axis). */
export function curveSvg(points: readonly CurvePoint[]): string {
  const W = 560;
  const H = 320;
  const L = 60;
  const B = 50;
  const T = 20;
  const R = 20;
  const maxK = Math.max(...points.map((p) => p.streams));
  const x = (k: number) => L + ((W - L - R) * Math.log(k)) / Math.log(Math.max(2, maxK));
  const y = (a: number) => T + (H - T - B) * (1 - (a - 0.5) / 0.5);
  const line = (vals: Array<[number, number]>, color: string) => `<polyline fill="none" stroke="${color}" stroke-width="2" points="${vals.map(([k, a]) => `${x(k).toFixed(1)},${y(a).toFixed(1)}`).join(' ')}"/>` + vals.map(([k, a]) => `<circle cx="${x(k).toFixed(1)}" cy="${y(a).toFixed(1)}" r="3" fill="${color}"/>`).join('');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
  ];
  for (const a of [0.5, 0.6, 0.7, 0.8, 0.9, 1]) parts.push(`<line x1="${L}" y1="${y(a)}" x2="${W - R}" y2="${y(a)}" stroke="#ddd"/><text x="${L - 6}" y="${y(a) + 4}" text-anchor="end">${Math.round(a * 100)}%</text>`);
  for (const p of points) parts.push(`<text x="${x(p.streams)}" y="${H - B + 16}" text-anchor="middle">${p.streams}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">streams per user (log scale)</text>`);
  parts.push(`<text x="14" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">age group accuracy</text>`);
  parts.push(line(points.map((p) => [p.streams, p.accuracyTrue]), '#1f77b4'));
  parts.push(`<text x="${L + 10}" y="${T + 14}" fill="#1f77b4">true apps</text>`);
  if (points.some((p) => p.accuracyClassified !== null)) {
    parts.push(line(points.filter((p) => p.accuracyClassified !== null).map((p) => [p.streams, p.accuracyClassified!]), '#d62728'));
    parts.push(`<text x="${L + 10}" y="${T + 30}" fill="#d62728">apps as the classifier reported them</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
