import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * Data flows one way (docs/architecture.md): a module imports only from its own stage or an earlier one, and no
 * module imports itself back through others. Both read every import of src/ (static, type-only and dynamic).
 */
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** The stages in order; `pcap` (the capture file formats) comes before `capture`, which writes through it. */
export const STAGES = ['common', 'pcap', 'capture', 'decode', 'filter', 'flow', 'output', 'features', 'meter', 'label', 'testbed', 'dataset', 'models', 'profile', 'distributed', 'pipeline', 'server', 'cli'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []));
}

/** Relative imports of a module, resolved to .ts paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.[^'"]+)['"]/gm)) out.push(resolve(dirname(file), m[1].replace(/\.js$/, '.ts')));
  return out;
}

const stageOf = (file: string): string => relative(SRC, file).split('/')[0].replace(/\.ts$/, '');

describe('architecture', () => {
  const files = sources(SRC);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it('every folder of src/ is a stage', () => {
    const stages = new Set(files.map(stageOf).filter((s) => s !== 'index'));
    assert.deepEqual([...stages].filter((s) => !STAGES.includes(s)), []);
  });

  it('no stage imports a later one', () => {
    const bad: string[] = [];
    for (const [file, deps] of graph) {
      const from = stageOf(file);
      if (from === 'index') continue; // the library entry re-exports every stage
      for (const d of deps) {
        const to = stageOf(d);
        if (STAGES.indexOf(to) > STAGES.indexOf(from)) bad.push(`${relative(SRC, file)} -> ${relative(SRC, d)}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('every import names a module that exists, and no module imports itself back', () => {
    for (const deps of graph.values()) for (const d of deps) assert.ok(graph.has(d), `${d} exists`);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(SRC, p)).join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    assert.deepEqual(cycles, []);
  });
});
