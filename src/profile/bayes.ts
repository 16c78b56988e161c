/**
 * Trait models over usage counts (001, "User Profiling": naive Bayes, or a Bayesian belief network).
 *
 * A user is a bag of tokens with counts, "kind:item" (app:Video, action:Video/play_video, hour:21, weekday:6).
 *
 * Naive Bayes (multinomial, as scikit-learn's MultinomialNB): for one trait, the class prior is the share of
 * training users with each value; P(token | value) = (count of the token over users of that value + alpha) / (all
 * tokens of those users + alpha * vocabulary size), alpha = 1 (Laplace). A user's posterior is proportional to
 * prior * product over tokens of P(token | value)^count. Tokens never seen in training are left out.
 *
 * Bayesian network: traits are root nodes; each usage kind is a node whose parents are the traits a config names
 * (e.g. age_group -> app, gender -> action, profession -> hour). Its table gives P(item | parent values), Laplace
 * smoothed over the kind's items, from the users labeled with all of the parents. Inference is exact: every joint
 * assignment of the traits is scored, log prior(s) + sum over kinds and items of count * log P(item | parents), then
 * normalised and summed into each trait's marginal. Kinds without parents are constant and drop out.
 */
export type Tokens = ReadonlyMap<string, number>;

export interface Posterior {
  /** value -> probability, summing to 1. */
  [value: string]: number;
}

function softmaxLog(scores: Map<string, number>): Posterior {
  const mx = Math.max(...scores.values());
  let s = 0;
  const out: Posterior = {};
  for (const [k, v] of scores) s += out[k] = Math.exp(v - mx);
  for (const k of Object.keys(out)) out[k] /= s;
  return out;
}

export interface NaiveBayesJson {
  kind: 'naive-bayes';
  trait: string;
  alpha: number;
  classes: string[];
  logPrior: number[];
  vocabulary: string[];
  /** logLikelihood[c][t] */
  logLikelihood: number[][];
}

export class NaiveBayes {
  private readonly index: Map<string, number>;
  constructor(readonly model: NaiveBayesJson) {
    this.index = new Map(model.vocabulary.map((t, i) => [t, i]));
  }

  static fit(trait: string, users: ReadonlyArray<{ tokens: Tokens; value: string }>, alpha = 1): NaiveBayes {
    if (users.length === 0) throw new Error(`naive Bayes for ${trait}: no labeled users`);
    const classes = [...new Set(users.map((u) => u.value))].sort();
    const vocabulary = [...new Set(users.flatMap((u) => [...u.tokens.keys()]))].sort();
    const vi = new Map(vocabulary.map((t, i) => [t, i]));
    const counts = classes.map(() => new Float64Array(vocabulary.length));
    const members = classes.map(() => 0);
    for (const u of users) {
      const c = classes.indexOf(u.value);
      members[c]++;
      for (const [t, n] of u.tokens) counts[c][vi.get(t)!] += n;
    }
    const logPrior = members.map((m) => Math.log(m / users.length));
    const logLikelihood = counts.map((row) => {
      const total = row.reduce((a, b) => a + b, 0) + alpha * vocabulary.length;
      return Array.from(row, (n) => Math.log((n + alpha) / total));
    });
    return new NaiveBayes({ kind: 'naive-bayes', trait, alpha, classes, logPrior, vocabulary, logLikelihood });
  }

  predict(tokens: Tokens): Posterior {
    const m = this.model;
    const scores = new Map<string, number>();
    m.classes.forEach((c, ci) => {
      let s = m.logPrior[ci];
      for (const [t, n] of tokens) {
        const i = this.index.get(t);
        if (i !== undefined) s += n * m.logLikelihood[ci][i];
      }
      scores.set(c, s);
    });
    return softmaxLog(scores);
  }
}

/** Which traits each usage kind depends on. */
export interface NetworkStructure {
  traits: string[];
  parents: Record<string, string[]>;
}

export const DEFAULT_NETWORK: NetworkStructure = {
  traits: ['gender', 'age_group', 'profession'],
  parents: { app: ['age_group'], action: ['gender'], hour: ['profession'], weekday: ['profession'] },
};

export interface BayesNetJson {
  kind: 'bayes-net';
  structure: NetworkStructure;
  alpha: number;
  /** trait -> value -> log prior */
  logPrior: Record<string, Record<string, number>>;
  /** kind -> parent values joined by "|" -> item -> log P(item | parents); "*" holds an item unseen with them. */
  tables: Record<string, Record<string, Record<string, number>>>;
}

/** Check a structure: traits named, parents among them, kinds named. */
export function checkStructure(s: NetworkStructure, where: string): NetworkStructure {
  if (!Array.isArray(s.traits) || s.traits.length === 0) throw new Error(`${where}: "traits" must list the trait nodes`);
  if (typeof s.parents !== 'object' || s.parents === null) throw new Error(`${where}: "parents" must map usage kinds to their parent traits`);
  for (const [kind, ps] of Object.entries(s.parents)) {
    if (!Array.isArray(ps)) throw new Error(`${where}: parents of ${kind} must be a list`);
    for (const p of ps) if (!s.traits.includes(p)) throw new Error(`${where}: ${kind}'s parent ${p} is not one of the traits ${s.traits.join(', ')}`);
  }
  return s;
}

function split(token: string): [string, string] {
  const i = token.indexOf(':');
  return i < 0 ? [token, ''] : [token.slice(0, i), token.slice(i + 1)];
}

export class BayesNet {
  constructor(readonly model: BayesNetJson) {}

  static fit(structure: NetworkStructure, users: ReadonlyArray<{ tokens: Tokens; traits: Partial<Record<string, string>> }>, alpha = 1): BayesNet {
    const logPrior: BayesNetJson['logPrior'] = {};
    for (const t of structure.traits) {
      const labeled = users.filter((u) => u.traits[t] !== undefined);
      if (labeled.length === 0) throw new Error(`Bayesian network: no user is labeled with ${t}`);
      const values = [...new Set(labeled.map((u) => u.traits[t]!))].sort();
      // Laplace-smoothed priors: a value seen once still leaves room for the others.
      logPrior[t] = Object.fromEntries(values.map((v) => [v, Math.log((labeled.filter((u) => u.traits[t] === v).length + alpha) / (labeled.length + alpha * values.length))]));
    }
    const tables: BayesNetJson['tables'] = {};
    for (const [kind, parents] of Object.entries(structure.parents)) {
      if (parents.length === 0) continue;
      const items = [...new Set(users.flatMap((u) => [...u.tokens.keys()].map(split).filter(([k]) => k === kind).map(([, item]) => item)))].sort();
      const counts = new Map<string, Map<string, number>>();
      for (const u of users) {
        if (parents.some((p) => u.traits[p] === undefined)) continue;
        const key = parents.map((p) => u.traits[p]).join('|');
        let c = counts.get(key);
        if (!c) counts.set(key, (c = new Map()));
        for (const [t, n] of u.tokens) {
          const [k, item] = split(t);
          if (k === kind) c.set(item, (c.get(item) ?? 0) + n);
        }
      }
      const table: Record<string, Record<string, number>> = {};
      for (const key of cartesian(parents.map((p) => Object.keys(logPrior[p])))) {
        const c = counts.get(key.join('|')) ?? new Map<string, number>();
        let total = alpha * (items.length + 1); // +1: room for an item never seen in training
        for (const n of c.values()) total += n;
        const row: Record<string, number> = { '*': Math.log(alpha / total) };
        for (const item of items) row[item] = Math.log(((c.get(item) ?? 0) + alpha) / total);
        table[key.join('|')] = row;
      }
      tables[kind] = table;
    }
    return new BayesNet({ kind: 'bayes-net', structure, alpha, logPrior, tables });
  }

  /** Each trait's marginal posterior. */
  predict(tokens: Tokens): Record<string, Posterior> {
    const { structure, logPrior, tables } = this.model;
    const traits = structure.traits;
    const byKind = new Map<string, Array<[string, number]>>();
    for (const [t, n] of tokens) {
      const [k, item] = split(t);
      if (!tables[k]) continue;
      let l = byKind.get(k);
      if (!l) byKind.set(k, (l = []));
      l.push([item, n]);
    }
    const joint: Array<[string[], number]> = [];
    for (const values of cartesian(traits.map((t) => Object.keys(logPrior[t])))) {
      let s = 0;
      traits.forEach((t, i) => (s += logPrior[t][values[i]]));
      for (const [kind, items] of byKind) {
        const row = tables[kind][structure.parents[kind].map((p) => values[traits.indexOf(p)]).join('|')];
        for (const [item, n] of items) s += n * (row[item] ?? row['*']);
      }
      joint.push([values, s]);
    }
    const mx = Math.max(...joint.map(([, s]) => s));
    let z = 0;
    for (const j of joint) z += j[1] = Math.exp(j[1] - mx);
    const out: Record<string, Posterior> = {};
    traits.forEach((t, i) => {
      const p: Posterior = {};
      for (const v of Object.keys(logPrior[t])) p[v] = 0;
      for (const [values, w] of joint) p[values[i]] += w / z;
      out[t] = p;
    });
    return out;
  }
}

function cartesian(lists: string[][]): string[][] {
  return lists.reduce<string[][]>((acc, l) => acc.flatMap((a) => l.map((v) => [...a, v])), [[]]);
}
