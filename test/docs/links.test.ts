import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/cli.js';

/** The README and docs/ link only to files that exist, and the README stays a short guide. */
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('documentation', () => {
  for (const f of FILES) {
    it(`${f}: relative links resolve`, () => {
      const text = readFileSync(join(ROOT, f), 'utf8');
      const broken: string[] = [];
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1].split('#')[0];
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(ROOT, dirname(f), target))) broken.push(m[1]);
      }
      assert.deepEqual(broken, []);
    });
  }

  it('the README is a guide of under 250 lines that names no internal process', () => {
    const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.ok(text.split('\n').length < 250, `${text.split('\n').length} lines`);
    for (const f of FILES) assert.doesNotMatch(readFileSync(join(ROOT, f), 'utf8'), /\bissue [0-9]|\bthe proposal\b|shared\/seeds/i, f);
  });
});
