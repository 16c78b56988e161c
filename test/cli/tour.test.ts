import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { SHARED } from '../helpers/tshark.js';

/**
 * The README's first hour (scripts/tour.sh) runs end to end on the bundled captures, as a newcomer would run it:
 * info, flows, pandas and DuckDB queries, label, evaluate, train, classify, profile, report. The script checks each
 * step's output itself; here its outputs are checked to exist and to say what the README says.
 */
describe('scripts/tour.sh', () => {
  it('runs the first hour end to end', { skip: !existsSync(join(SHARED, 'datasets/whatsapp-web-actions')) && process.env.CI !== 'true' ? 'no shared datasets' : false, timeout: 600_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), 'cipherscope-tour-'));
    try {
      // From source, so the test needs no build; the script itself defaults to the build, as a user runs it.
      const r = spawnSync('bash', ['scripts/tour.sh', out], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CIPHERSCOPE: `${process.execPath} --import tsx src/cli/run.ts` }, maxBuffer: 1 << 26 });
      assert.equal(r.status, 0, `${r.stderr.slice(-3000)}`);
      assert.match(r.stderr, /tour: done/);
      assert.match(r.stdout, /datetime64|first_seen/);
      assert.match(r.stdout, /majority class, split by user/);
      for (const f of ['flows.csv', 'flows.parquet', 'nfstream.csv', 'model/manifest.json', 'classified.csv', 'profiles.db', 'report.html']) assert.ok(existsSync(join(out, f)), f);
      const report = readFileSync(join(out, 'report.html'), 'utf8');
      assert.doesNotMatch(report, /192\.168\.1\.12/, 'the report hides the device address');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
