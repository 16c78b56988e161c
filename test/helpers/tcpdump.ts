import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from './cli.js';

/** tcpdump's path, or undefined where it is not installed (the tests that need it skip). */
export const TCPDUMP = ['/usr/bin/tcpdump', '/usr/sbin/tcpdump'].find((p) => existsSync(p));

/**
 * `cipherscope filter FILE -f EXPR` against `tcpdump -r FILE -w OUT EXPR`: the packet records must be the same, byte
 * for byte (both write nanosecond pcap; the file headers are not compared). Scratch files go in `dir`. Returns the
 * bytes kept, so a test can check that its expressions kept something.
 */
export function filterAgainstTcpdump(file: string, expr: string, dir: string, what = file): number {
  const ours = join(dir, 'ours.pcap');
  const theirs = join(dir, 'theirs.pcap');
  const r = cli(['filter', file, '-f', expr, '--keep-noise', '-o', ours, '-q']);
  assert.equal(r.status, 0, r.stderr);
  execFileSync(TCPDUMP!, ['--time-stamp-precision=nano', '-r', file, '-w', theirs, expr], { stdio: 'ignore' });
  const got = readFileSync(ours).subarray(24);
  assert.deepEqual(got, readFileSync(theirs).subarray(24), `${what} -f "${expr}"`);
  return got.length;
}
