import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../src/common/rng.js';
import { ScenarioError, parseScenario } from '../../src/testbed/scenario.js';
import { SHAPES, VIDEO_LADDER_KBPS, VIDEO_SEGMENT_SEC, VIDEO_VBR_SIGMA, draw, isDist, segmentBytes } from '../../src/testbed/shapes.js';

/** The testbed's distributions: log-normal draws checked against SciPy's log-normal (Kolmogorov-Smirnov). */
const scipy = existsSync('/usr/bin/python3') && (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import scipy.stats'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** SciPy's Kolmogorov-Smirnov p-value of `xs` against a log-normal of this median and sigma. */
function ksLognormal(xs: number[], median: number, sigma: number): number {
  const py = `import json,sys\nfrom scipy import stats\nxs=json.load(sys.stdin)\nprint(stats.kstest(xs,'lognorm',args=(${sigma},0,${median})).pvalue)`;
  return Number(execFileSync('/usr/bin/python3', ['-c', py], { input: JSON.stringify(xs), encoding: 'utf8' }).trim());
}

describe('testbed shapes', () => {
  it('a log-normal draw is log-normal with its median and sigma (SciPy KS test), and clamped to [min, max]', { skip: !scipy && process.env.CI !== 'true' ? 'needs python3-scipy (scripts/setup.sh installs python3-sklearn, which brings it)' : false }, () => {
    const random = mulberry32(11);
    // Unrounded draws: draw() rounds to integers, so test on a large median where rounding is negligible.
    const d = { lognormal: { median: 1_000_000, sigma: 0.7 } };
    const xs = Array.from({ length: 4000 }, () => draw(d, random));
    assert.ok(ksLognormal(xs, 1_000_000, 0.7) > 0.01, 'KS p-value');
    // A wrong sigma is rejected by the same test: it can fail.
    assert.ok(ksLognormal(xs, 1_000_000, 0.9) < 0.001);
    const clamped = Array.from({ length: 2000 }, () => draw({ lognormal: { median: 100, sigma: 2 }, min: 50, max: 120 }, random));
    assert.equal(Math.min(...clamped), 50);
    assert.equal(Math.max(...clamped), 120);
  });

  it('a range draw is uniform over its integers', () => {
    const random = mulberry32(3);
    const counts = new Map<number, number>();
    for (let i = 0; i < 6000; i++) {
      const x = draw([2, 4], random);
      counts.set(x, (counts.get(x) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), [2, 3, 4]);
    for (const n of counts.values()) assert.ok(Math.abs(n - 2000) < 150, `${n} of 6000`);
  });

  it('video segments average the rung bitrate times 6 s (times exp(sigma^2/2), the log-normal mean)', () => {
    const random = mulberry32(5);
    for (const rung of [0, 4]) {
      const n = 5000;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += segmentBytes(rung, random);
      const want = ((VIDEO_LADDER_KBPS[rung] * 1000) / 8) * VIDEO_SEGMENT_SEC * Math.exp((VIDEO_VBR_SIGMA * VIDEO_VBR_SIGMA) / 2);
      assert.ok(Math.abs(sum / n / want - 1) < 0.02, `rung ${rung}: ${sum / n} against ${want}`);
    }
  });

  it('every documented shape has a source and a valid distribution; scenarios take them and refuse malformed ones', () => {
    for (const [k, s] of Object.entries(SHAPES)) {
      assert.ok(isDist(s.dist), k);
      assert.ok(s.source.length > 40, `${k} says where it comes from`);
    }
    const base = { name: 'x', target: 'testbed', users: 1, repetitions: 1, pages: { p: 'social' } };
    const step = (words: unknown) => JSON.stringify({ ...base, thinkMs: SHAPES.thinkMs.dist, actions: [{ app: 'A', action: 'a', page: 'p', steps: [{ type: '#t', words }] }] });
    assert.deepEqual((parseScenario(step(SHAPES.chatWords.dist), 'x.json').actions[0].steps[0] as { words: unknown }).words, SHAPES.chatWords.dist);
    assert.throws(() => parseScenario(step({ lognormal: { median: -1, sigma: 1 } }), 'x.json'), ScenarioError);
    assert.throws(() => parseScenario(step({ lognormal: { median: 5, sigma: 1 }, min: 10, max: 2 }), 'x.json'), ScenarioError);
    assert.throws(() => parseScenario(JSON.stringify({ ...base, thinkMs: { normal: 3 }, actions: [] }), 'x.json'), /thinkMs/);
  });
});
