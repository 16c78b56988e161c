import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BayesNet, NaiveBayes, checkStructure } from '../../src/profile/bayes.js';
import { mean, mergeMoments, momentsOf, sd } from '../../src/profile/moments.js';
import { pythonJson, skipWithoutSklearn } from '../helpers/sklearn.js';

const tokens = (o: Record<string, number>) => new Map(Object.entries(o));
const USERS = [
  { tokens: tokens({ 'app:A': 3, 'app:B': 1 }), traits: { gender: 'f', age_group: 'young' } },
  { tokens: tokens({ 'app:A': 1 }), traits: { gender: 'f', age_group: 'old' } },
  { tokens: tokens({ 'app:B': 2, 'hour:9': 1 }), traits: { gender: 'm', age_group: 'old' } },
];
const QUERY = tokens({ 'app:A': 1, 'app:B': 1, 'hour:9': 1, 'app:Z': 5 });

describe('mergeable statistics', () => {
  it('merged count, sum and sum of squares equal those of the concatenated streams', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000_000 })), fc.array(fc.integer({ min: 0, max: 10_000_000 })), (a, b) => {
        // Integer sizes: sums are exact below 2^53, so the equality is exact.
        assert.deepEqual(mergeMoments(momentsOf(a), momentsOf(b)), momentsOf([...a, ...b]));
      }),
      { numRuns: 300, seed: 7 },
    );
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1 }), fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1 }), (a, b) => {
        const m = mergeMoments(momentsOf(a), momentsOf(b));
        const all = [...a, ...b];
        const mu = all.reduce((x, y) => x + y, 0) / all.length;
        const s = Math.sqrt(all.reduce((x, y) => x + (y - mu) ** 2, 0) / all.length);
        assert.ok(Math.abs(mean(m) - mu) <= 1e-9 * Math.max(1, mu));
        assert.ok(Math.abs(sd(m) - s) <= 1e-6 * Math.max(1, mu), `${sd(m)} vs ${s}`);
      }),
      { numRuns: 300, seed: 8 },
    );
  });
});

describe('naive Bayes', () => {
  it('posteriors equal a hand computation on a small table', () => {
    const nb = NaiveBayes.fit(
      'gender',
      USERS.map((u) => ({ tokens: u.tokens, value: u.traits.gender })),
    );
    // Vocabulary app:A, app:B, hour:9. f: counts 4, 1, 0 -> (5, 2, 1)/8; m: 0, 2, 1 -> (1, 3, 2)/6.
    // Priors 2/3, 1/3. Query A, B, hour 9 once (app:Z was never seen: left out):
    //   f: 2/3 * 5/8 * 2/8 * 1/8 = 5/384;  m: 1/3 * 1/6 * 3/6 * 2/6 = 1/108;  P(f) = 540/924.
    const p = nb.predict(QUERY);
    assert.ok(Math.abs(p.f - 540 / 924) < 1e-12, String(p.f));
    assert.ok(Math.abs(p.m - 384 / 924) < 1e-12, String(p.m));
  });

  it('equals scikit-learn MultinomialNB on the same counts', { skip: skipWithoutSklearn }, () => {
    const nb = NaiveBayes.fit(
      'gender',
      USERS.map((u) => ({ tokens: u.tokens, value: u.traits.gender })),
    );
    const vocab = ['app:A', 'app:B', 'hour:9'];
    const X = USERS.map((u) => vocab.map((t) => u.tokens.get(t) ?? 0));
    const q = vocab.map((t) => QUERY.get(t) ?? 0);
    const sk = pythonJson<number[]>(`
import json
from sklearn.naive_bayes import MultinomialNB
m = MultinomialNB(alpha=1.0).fit(${JSON.stringify(X)}, ${JSON.stringify(USERS.map((u) => u.traits.gender))})
print(json.dumps(dict(zip(m.classes_.tolist(), m.predict_proba([${JSON.stringify(q)}])[0].tolist()))))`) as unknown as Record<string, number>;
    const p = nb.predict(QUERY);
    for (const c of ['f', 'm']) assert.ok(Math.abs(p[c] - sk[c]) < 1e-12, `${c}: ${p[c]} vs ${sk[c]}`);
  });
});

describe('Bayesian network', () => {
  it('posteriors equal a hand computation for one trait and one usage kind', () => {
    const bn = BayesNet.fit(checkStructure({ traits: ['gender'], parents: { app: ['gender'], hour: [] } }, 'test'), USERS);
    // Priors (2 + 1)/(3 + 2) = 3/5 and 2/5. app items A, B and one slot for unseen items:
    //   f: (4+1, 1+1, 1)/8;  m: (0+1, 2+1, 1)/5. hour has no parent: no table, no effect.
    //   f: 3/5 * 5/8 * 2/8 * (1/8)^5;  m: 2/5 * 1/5 * 3/5 * (1/5)^5  (app:Z, five times, takes the unseen slot)
    const f = (3 / 5) * (5 / 8) * (2 / 8) * (1 / 8) ** 5;
    const m = (2 / 5) * (1 / 5) * (3 / 5) * (1 / 5) ** 5;
    const p = bn.predict(QUERY).gender;
    assert.ok(Math.abs(p.f - f / (f + m)) < 1e-12, `${p.f} vs ${f / (f + m)}`);
  });

  it('with traits that share no usage kind, each marginal equals the network of that trait alone', () => {
    const both = BayesNet.fit({ traits: ['gender', 'age_group'], parents: { app: ['age_group'], hour: ['gender'] } }, USERS).predict(QUERY);
    const g = BayesNet.fit({ traits: ['gender'], parents: { hour: ['gender'] } }, USERS).predict(QUERY).gender;
    const a = BayesNet.fit({ traits: ['age_group'], parents: { app: ['age_group'] } }, USERS).predict(QUERY).age_group;
    for (const v of Object.keys(g)) assert.ok(Math.abs(both.gender[v] - g[v]) < 1e-12);
    for (const v of Object.keys(a)) assert.ok(Math.abs(both.age_group[v] - a[v]) < 1e-12);
    // A kind with two parents couples them: the marginals move, and still sum to 1.
    const coupled = BayesNet.fit({ traits: ['gender', 'age_group'], parents: { app: ['age_group', 'gender'] } }, USERS).predict(QUERY);
    for (const t of ['gender', 'age_group']) assert.ok(Math.abs(Object.values(coupled[t]).reduce((x, y) => x + y, 0) - 1) < 1e-12);
  });

  it('a structure naming a parent that is not a trait is refused with the reason', () => {
    assert.throws(() => checkStructure({ traits: ['gender'], parents: { app: ['income'] } }, 'net.json'), /net\.json: app's parent income is not one of the traits gender/);
  });
});
