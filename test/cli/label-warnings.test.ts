import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { PCAPS } from '../helpers/tshark.js';

/** A labeling run that labels nothing says why, and --strict makes it fail. */
describe('label says when it did nothing useful', () => {
  const file = join(PCAPS, 'tls12-sni-chrome34-google.pcap');
  it('no flow of the logged app: a warning naming the app and the flows\' apps; exit 2 with --strict, 0 without', () => {
    const strict = cli(['label', file, '--capture-action', 'nosuchapp/browse', '--strict', '-o', '/dev/null']);
    assert.equal(strict.status, 2, strict.stderr);
    assert.match(strict.stderr, /warning: no record matched any of the 1 action\(s\): no flow is named with the log's app nosuchapp; the flows' apps: .*--apps/);
    const lenient = cli(['label', file, '--capture-action', 'nosuchapp/browse', '-o', '/dev/null']);
    assert.equal(lenient.status, 0);
    assert.match(lenient.stderr, /warning: no record matched/);
  });

  it('records that match: no warning', () => {
    const head = cli(['flows', file, '-q', '--apps', '--columns', 'app']).stdout.split('\n').slice(1).filter(Boolean);
    const app = head.find((a) => a !== '');
    assert.ok(app, 'the rules name some flow of this capture');
    const r = cli(['label', file, '--capture-action', `${app}/browse`, '--strict', '-o', '/dev/null']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /warning/);
  });

  it('an app spelled in another case is the rules\' app: the same labels as with its own spelling', () => {
    const head = cli(['flows', file, '-q', '--apps', '--columns', 'app']).stdout.split('\n').slice(1).filter(Boolean);
    const app = head.find((a) => a !== '')!;
    const own = cli(['label', file, '--capture-action', `${app}/browse`, '--strict', '-o', '-', '-q']);
    const lower = cli(['label', file, '--capture-action', `${app.toLowerCase()}/browse`, '--strict', '-o', '-', '-q']);
    assert.notEqual(app, app.toLowerCase());
    assert.equal(lower.status, 0, lower.stderr);
    assert.equal(lower.stdout, own.stdout);
    assert.match(own.stdout, new RegExp(`,${app},browse,`));
  });
});
