import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, cli } from '../helpers/cli.js';
import { PCAPS } from '../helpers/tshark.js';
import { tempDir } from '../helpers/temp.js';

/** `--plugin MODULE` loads a module of one's own before the options are read: the examples of docs/architecture.md. */
describe('--plugin', () => {
  const dir = tempDir('cipherscope-plugin-option-');
  const capture = join(PCAPS, 'rawip-tcp.pcap');

  it("a plugin of one's own: its group is known to --features, and 2 threads give the records 1 thread gives", () => {
    const run = (threads: string) => {
      const r = cli(['flows', '--plugin', join(ROOT, 'docs/examples/ttl-plugin.ts'), '--features', 'tcp,ttl', '--threads', threads, '-q', capture]);
      assert.equal(r.status, 0, r.stderr);
      const [head, ...rows] = r.stdout.trim().split('\n');
      const id = head.split(',').indexOf('flow_id');
      return { head, rows: rows.map((l) => l.split(',').filter((_, i) => i !== id).join(',')).sort() };
    };
    const one = run('1');
    assert.match(one.head, /,client_ttl_min,client_ttl_max,server_ttl_min,server_ttl_max$/);
    assert.deepEqual(run('2'), one);
  });

  it("a record format of one's own: -o x.tsv asks for it", () => {
    const out = join(dir, 'flows.tsv');
    const r = cli(['--plugin', join(ROOT, 'docs/examples/tsv-format.ts'), 'flows', '-q', capture, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines[0].split('\t')[1], 'flow_id');
    assert.equal(lines.length, 21);
  });

  it('a module that cannot load is an error naming it', () => {
    const r = cli(['flows', '--plugin', 'no-such-module.js', capture]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--plugin no-such-module\.js: cannot load it/);
  });
});
