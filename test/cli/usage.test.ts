import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';

/** A usage error is one line of what is wrong, the command's usage line and where the options are: 3 lines. */
describe('usage errors', () => {
  for (const args of [['flows', '--bogus'], ['profile', 'ingest', '--nope'], ['flows', 'x.pcap', '--memory', '3'], ['evaluate', '--folds', 'many', 'a.csv'], ['flows', '-f', 'tcp prot 80', 'x.pcap'], ['flows', 'x.pcap', '--threads', '0'], ['live', '-', '--threads', '1.5'], ['train', 'a.csv', '--model', 'm', '--threads', '0']]) {
    it(`cipherscope ${args.join(' ')}`, () => {
      const r = cli(args);
      assert.equal(r.status, 1);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 3, r.stderr);
      assert.match(lines[0], /^error: /);
      assert.match(lines[1], new RegExp(`^Usage: cipherscope ${args[0]}`));
      assert.match(lines[2], /--help lists the options/);
      assert.equal(r.stdout, '');
      if (args.includes('--threads')) assert.match(lines[0], /must be a whole number of threads from 1 to 1024/);
    });
  }
});
