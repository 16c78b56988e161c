import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { curveSvg, learningCurve } from '../../src/profile/simulate.js';

describe('trait simulation', () => {
  it('accuracy and confidence grow with the streams per user; an exact classifier changes nothing, a useless one leaves chance', () => {
    const apps = ['Video', 'Social', 'Chat', 'Mail'];
    const identity = { classes: apps, matrix: apps.map((_, i) => apps.map((_, j) => (i === j ? 10 : 0))) };
    const curve = learningCurve({ users: 200, streamsPerUser: [1, 5, 50], confusion: identity });
    assert.deepEqual(learningCurve({ users: 200, streamsPerUser: [1, 5, 50], confusion: identity }), curve, 'seeded');
    for (const p of curve) assert.equal(p.accuracyClassified, p.accuracyTrue);
    assert.ok(curve[0].accuracyTrue < curve[1].accuracyTrue && curve[1].accuracyTrue < curve[2].accuracyTrue, JSON.stringify(curve));
    assert.ok(curve[0].confidenceTrue < curve[2].confidenceTrue);
    // Adoption rates that differ this much (Snapchat 65% against 2%) tell the groups apart from many streams.
    assert.ok(curve[2].accuracyTrue > 0.75, JSON.stringify(curve));
    // A classifier that answers every app with the same odds erases the signal: chance level, about 50%.
    const useless = { classes: apps, matrix: apps.map(() => apps.map(() => 1)) };
    const noise = learningCurve({ users: 400, streamsPerUser: [50], confusion: useless });
    assert.ok(Math.abs(noise[0].accuracyClassified! - 0.5) < 0.08, JSON.stringify(noise));
    const svg = curveSvg(curve);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
  });
});
