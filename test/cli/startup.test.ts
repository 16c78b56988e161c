import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { buildProgram, commandOf } from '../../src/cli/main.js';
import { ROOT } from '../helpers/cli.js';

const ALL = ['flows', 'filter', 'label', 'testbed', 'evaluate', 'train', 'classify', 'profile', 'capture', 'live', 'publish', 'worker', 'serve', 'report', 'ip-lists', 'schema', 'info'];

describe('start-up loads only the command that runs', () => {
  it('commandOf: the first word after the global options, if it is ours', () => {
    const argv = (...a: string[]) => ['node', 'cipherscope', ...a];
    assert.equal(commandOf(argv('flows', 'x.pcap')), 'flows');
    assert.equal(commandOf(argv('--plugin', 'p.js', 'evaluate', 'a.csv')), 'evaluate');
    assert.equal(commandOf(argv('--plugin=p.js', 'profile', 'show')), 'profile');
    assert.equal(commandOf(argv('report', '--help')), 'report');
    for (const a of [[], ['--help'], ['-V'], ['help', 'flows'], ['flow'], ['x.pcap']]) assert.equal(commandOf(argv(...a)), undefined, a.join(' '));
  });

  it('one command, or all of them in help order', async () => {
    assert.deepEqual((await buildProgram()).commands.map((c) => c.name()), ALL);
    for (const name of ['flows', 'schema', 'classify', 'worker', 'info']) {
      const p = await buildProgram(name);
      assert.ok(p.commands.some((c) => c.name() === name), name);
      assert.ok(p.commands.length <= 3, `${name}: ${p.commands.map((c) => c.name()).join(' ')}`);
    }
  });

  it('metering a capture loads no model, profile, label, testbed or server module', () => {
    // A module-load hook in the child prints every module it loads.
    const hook = "export async function load(u, c, n) { if (u.startsWith('file:')) process.stderr.write('LOADED ' + u + '\\n'); return n(u, c); }";
    const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`;
    const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), 'flows', resolve(ROOT, '../shared/pcaps/sll-mixed-tcp-dns-arp.pcap'), '-o', '/dev/null', '-q'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const loaded = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ') && l.includes('/src/'));
    assert.ok(loaded.some((l) => l.includes('/src/meter/meter.ts')), 'the hook sees our modules');
    const extra = loaded.filter((l) => /\/src\/(models|profile|label|testbed|server|dataset|pipeline|distributed)\//.test(l));
    assert.deepEqual(extra, []);
  });
});
