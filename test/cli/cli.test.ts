import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { flowColumns } from '../../src/meter/meter.js';
import { FEATURE_GROUPS, OPTIONAL_GROUPS, flowPlugins } from '../../src/features/plugins.js';
import { schemaMarkdown } from '../../src/flow/schema.js';
import { LABEL_COLUMNS } from '../../src/label/labeler.js';
import { ROOT, cli, labelWhatsApp } from '../helpers/cli.js';
import { PCAPS, SHARED } from '../helpers/tshark.js';
import { parseCsv } from '../helpers/csv.js';

const dir = mkdtempSync(join(tmpdir(), 'cipherscope-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The CSV text of a value read back from JSON or Parquet: null is empty, lists are "[a,b]". */
function asCsv(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(asCsv).join(',')}]`;
  if (typeof v === 'object' && Symbol.iterator in (v as object)) return asCsv(Array.from(v as Iterable<unknown>));
  return String(v);
}


describe('cipherscope CLI', () => {
  it('--help works for the program and every command', () => {
    for (const args of [['--help'], ['flows', '--help'], ['filter', '--help'], ['schema', '--help'], ['info', '--help'], ['label', '--help'], ['testbed', 'run', '--help'], ['testbed', 'serve', '--help'], ['evaluate', '--help'], ['train', '--help'], ['classify', '--help'], ['profile', '--help'], ['profile', 'ingest', '--help'], ['capture', '--help'], ['live', '--help']]) {
      const r = cli(args);
      assert.equal(r.status, 0, args.join(' '));
      assert.match(r.stdout, /Usage: cipherscope/);
    }
    assert.match(cli(['flows', '--help']).stdout, /--idle-timeout <seconds>/);
  });

  it('--features takes groups, "all" and "none", and names the groups when given an unknown one', () => {
    const file = join(PCAPS, 'tls12-sni-chrome34-google.pcap');
    const header = (args: string[]) => cli(['flows', file, '-q', ...args]).stdout.split('\n')[0];
    // "all": the default groups, then the on-request ones (after the handshake, the LSTM's series).
    const ah = flowColumns(flowPlugins({ groups: ['after-handshake'] })).map((c) => c.name).filter((n) => n.startsWith('ah_') || n.startsWith('handshake_'));
    assert.equal(ah.length, 35);
    assert.equal(header(['--features', 'all']), `${header([])},${ah.join(',')},series_pooled`);
    assert.equal(header([]), flowColumns(flowPlugins()).map((c) => c.name).join(','));
    assert.equal(header(['--features', 'none']), flowColumns(flowPlugins({ groups: [] })).map((c) => c.name).join(','));
    assert.ok(header(['--features', 'tls']).includes('tls_sni'));
    assert.ok(!header(['--features', 'tls']).includes('splt_iat_ns'));
    const bad = cli(['flows', file, '--features', 'tls,nope']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /unknown feature group "nope"; choose from tcp, tls, dns, splt, bytes, device, after-handshake, series/);
  });

  it('label: flows of a real capture labeled from an action log, with a report; a bad log names its line', () => {
    const cap = join(PCAPS, 'tls12-https-heise-offers13.pcap');
    const rules = join(dir, 'rules.json');
    writeFileSync(rules, JSON.stringify({ version: 1, apps: [{ name: 'Heise', domains: ['heise.de'] }] }));
    // The capture's one connection runs from 1646150638.631834 to 1646150645.908399 s.
    const act = (seq: number, action: string, start: bigint, end: bigint) => JSON.stringify({ user: 'u1', device: 'd1', app: 'Heise', action, start_ns: String(start), end_ns: String(end), scenario: 't', repetition: 0, seq });
    const log = join(dir, 'actions.jsonl');
    writeFileSync(log, [act(0, 'read_news', 1646150639000000000n, 1646150640000000000n), act(1, 'comment', 1646150700000000000n, 1646150701000000000n)].join('\n') + '\n');
    const report = join(dir, 'report.json');
    const r = cli(['label', cap, '--actions', log, '--apps', rules, '--report', report]);
    assert.equal(r.status, 0, r.stderr);
    const rows = parseCsv(r.stdout);
    const col = (n: string) => rows[0].indexOf(n);
    assert.deepEqual(rows[0].slice(-6), ['label_app', 'label_action', 'label_source', 'label_action_seq', 'label_user', 'label_meter']);
    // Labeling splits connections at 1 s silences (--burst-gap): the page load is one burst, later bursts are
    // segments that keep the app from the first one and overlap no action.
    const got = rows.slice(1).map((x) => [x[col('segment')], x[col('app_evidence')], x[col('label_app')], x[col('label_action')], x[col('label_source')], x[col('label_action_seq')]]);
    assert.deepEqual(got, [
      ['0', 'sni', 'Heise', 'read_news', 'action', '0'],
      ['1', 'previous-segment', 'Heise', 'impertinent', 'app-outside-actions', ''],
      ['2', 'previous-segment', 'Heise', 'impertinent', 'app-outside-actions', ''],
      ['3', 'previous-segment', 'Heise', 'impertinent', 'app-outside-actions', ''],
    ]);
    const whole = parseCsv(cli(['label', cap, '--actions', log, '--apps', rules, '--burst-gap', '0', '-q']).stdout);
    assert.equal(whole.length, 2);
    assert.equal(whole[1][col('label_action')], 'read_news');
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    assert.deepEqual(rep.actionsWithoutFlow, [{ seq: 1, user: 'u1', app: 'Heise', action: 'comment' }]);
    assert.match(r.stderr, /4 records, 2 actions/);
    writeFileSync(log, act(0, 'read_news', 1n, 2n) + '\n{"user":\n');
    const bad = cli(['label', cap, '--actions', log]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /actions\.jsonl:2: not JSON/);
  });

  it('label --capture-action, evaluate, train and classify on the real WhatsApp Web captures', () => {
    const data = join(SHARED, 'datasets/whatsapp-web-actions');
    const files: Array<[string, string]> = [
      ['userA-text-messages.pcapng', 'text'],
      ['userA-pictures.pcapng', 'picture'],
      ['userA-videos.pcapng', 'video'],
    ];
    const labeled = files.map(([f, action]) => {
      const out = join(dir, `${action}.csv`);
      const r = cli(['label', join(data, f), '--capture-action', `WhatsApp/${action}`, '-o', out, '-q']);
      assert.equal(r.status, 0, r.stderr);
      return out;
    });
    const rows = parseCsv(readFileSync(labeled[0], 'utf8'));
    const col = (n: string) => rows[0].indexOf(n);
    const wa = rows.slice(1).filter((r) => r[col('app')] === 'WhatsApp');
    assert.ok(wa.length > 0);
    for (const r of rows.slice(1)) assert.equal(r[col('label_action')], r[col('app')] !== 'WhatsApp' ? 'impertinent' : r[col('label_source')] === 'keepalive' ? 'keepalive' : 'text');
    assert.ok(rows.some((r) => r[col('label_action')] === 'keepalive'), 'the message connection has keep-alive bursts');

    // Open set (the default): the flows of no app are the app task's class "other".
    const open = cli(['evaluate', ...labeled, '--folds', '3', '--models', 'rf', '--report', join(dir, 'eval-open.json')]);
    assert.equal(open.status, 0, open.stderr);
    const openApp = JSON.parse(readFileSync(join(dir, 'eval-open.json'), 'utf8')).results.find((r: { task: string; split: string }) => r.task === 'app' && r.split === 'group-kfold');
    assert.deepEqual([...openApp.classes].sort(), ['WhatsApp', 'other']);
    // How much traffic the forest declined (called other), from its confusion matrix by hand.
    const o = openApp.classes.indexOf('other');
    const total = openApp.confusion.flat().reduce((a: number, b: number) => a + b, 0);
    const called = openApp.confusion.reduce((a: number, row: number[]) => a + row[o], 0);
    assert.match(open.stdout, new RegExp(`^Declined \\(called \`other\`, no app the model knows\\) in the app task: RF ${((100 * called) / total).toFixed(1)}% `, 'm'));
    assert.equal(openApp.rows, rows.length - 1 + parseCsv(readFileSync(labeled[1], 'utf8')).length - 1 + parseCsv(readFileSync(labeled[2], 'utf8')).length - 1, 'every final record: WhatsApp or other');
    const ev = cli(['evaluate', ...labeled, '--closed-world', '--folds', '3', '--report', join(dir, 'eval.json'), '--html', join(dir, 'eval.html')]);
    assert.equal(ev.status, 0, ev.stderr);
    assert.match(ev.stdout, /^\| model, split \| app \| action \(WhatsApp\) \| app\/action end to end \|$/m);
    assert.match(ev.stdout, /^\| RF, split by capture \| 100\.0 \[100\.0, 100\.0\] \/ 100\.0 \| /m);
    // Three captures, three folds: each capture is a fold of its own, and the table says so; baselines beside.
    assert.match(ev.stdout, /^Grouped split: app: leave-one-capture-out \(3 captures\); action \(WhatsApp\): leave-one-capture-out \(3 captures\)/m);
    assert.match(ev.stdout, /^\| majority class, split by capture \| 100\.0 \/ 100\.0 \| [\d.]+ \/ [\d.]+ \|/m);
    assert.match(ev.stdout, /^\| stratified chance, split by capture \| /m);
    const report = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8'));
    const action = report.results.find((r: { task: string; split: string }) => r.task === 'action:WhatsApp' && r.split === 'group-kfold');
    assert.deepEqual([...action.classes].sort(), ['keepalive', 'picture', 'text', 'video']);
    assert.equal(action.confusion.flat().reduce((a: number, b: number) => a + b, 0), action.rows);
    // One app, always recognised (100.0 above): end to end is then exactly the action task, flow by flow.
    const e2e = report.results.find((r: { task: string; model: string }) => r.task === 'end-to-end' && r.model === 'RF');
    const rfAction = report.results.find((r: { task: string; model: string; split: string }) => r.task === 'action:WhatsApp' && r.model === 'RF' && r.split === 'group-kfold');
    assert.equal(e2e.rows, rfAction.rows);
    assert.equal(e2e.accuracy, rfAction.accuracy);
    const html = readFileSync(join(dir, 'eval.html'), 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.equal((html.match(/<svg /g) ?? []).length, report.results.length, 'one confusion matrix per task, model and split');
    assert.ok(!/<script|src="http/.test(html), 'self-contained, no script');
    assert.doesNotMatch(html, /<h2>Early classification<\/h2>/, "one app: no early classification to show");

    const model = join(dir, 'model');
    const tr = cli(['train', ...labeled, '--model', model]);
    assert.equal(tr.status, 0, tr.stderr);
    const manifest = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.apps, ['WhatsApp', 'other']);
    assert.deepEqual(manifest.meter, { burstGapSec: 1, lengthMode: 'ip', idleTimeoutSec: 120, activeTimeoutSec: 1800, spltPackets: 20, byteDistBytes: 1024 }, 'read from the records (label_meter)');
    assert.match(manifest.tool, /^cipherscope \d+\.\d+\.\d+$/);
    const clash = cli(['train', ...labeled, '--model', join(dir, 'clash'), '--burst-gap', '0']);
    assert.equal(clash.status, 1);
    assert.match(clash.stderr, /--burst-gap 0, but the records were labeled with 1 \(label_meter\)/);
    const other = join(dir, 'payload.csv');
    assert.equal(cli(['label', join(data, 'userA-voice-messages.pcapng'), '--capture-action', 'WhatsApp/voice', '--length', 'payload', '-o', other, '-q']).status, 0);
    const mixed = cli(['train', ...labeled, other, '--model', join(dir, 'mixed')]);
    assert.equal(mixed.status, 1);
    assert.match(mixed.stderr, /metered differently \(label_meter: burst_gap_s=1 length=ip idle_s=120 active_s=1800 splt=20 byte_dist=1024; burst_gap_s=1 length=payload idle_s=120 active_s=1800 splt=20 byte_dist=1024\)/);
    const c1 = cli(['classify', join(data, 'userA-voice-messages.pcapng'), '--model', model]);
    const c2 = cli(['classify', join(data, 'userA-voice-messages.pcapng'), '--model', model]);
    assert.equal(c1.status, 0, c1.stderr);
    assert.equal(c1.stdout, c2.stdout);
    const out = parseCsv(c1.stdout);
    assert.deepEqual(out[0].slice(-4), ['predicted_app', 'app_probability', 'predicted_action', 'action_probability']);
    assert.ok(out.length > 10);
    for (const r of out.slice(1)) assert.ok(['WhatsApp', 'other', 'unknown'].includes(r[out[0].indexOf('predicted_app')]));
    // --columns: the same cells as the whole records, only those columns, in the order asked for.
    const names = ['predicted_action', 'flow_id', 'tls_sni', 'predicted_app', 'app_probability'];
    const cut = cli(['classify', join(data, 'userA-voice-messages.pcapng'), '--model', model, '--columns', names.join(',')]);
    assert.equal(cut.status, 0, cut.stderr);
    assert.deepEqual(parseCsv(cut.stdout), out.map((r) => names.map((n) => r[out[0].indexOf(n)])));
    const set = cli(['classify', join(data, 'userA-voice-messages.pcapng'), '--model', model, '--columns', 'nfstream']);
    assert.equal(set.status, 1);
    assert.match(set.stderr, /the named column sets are written by flows/);
    const bad = cli(['label', join(data, files[0][0]), '-q']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /give either --actions LOG or --capture-action APP\/ACTION/);
  });

  it('evaluate --after-handshake --first-packets --seeds: ah_ inputs only, list elements, mean ± SD over the seeds', () => {
    const data = join(SHARED, 'datasets/whatsapp-web-actions');
    const labeled = [
      ['userA-text-messages.pcapng', 'text'],
      ['userA-pictures.pcapng', 'picture'],
      ['userA-videos.pcapng', 'video'],
    ].map(([f, action]) => {
      const out = join(dir, `ah-${action}.csv`);
      const r = cli(['label', join(data, f), '--capture-action', `WhatsApp/${action}`, '--features', 'tcp,tls,dns,splt,bytes,after-handshake', '-o', out, '-q']);
      assert.equal(r.status, 0, r.stderr);
      return out;
    });
    const report = join(dir, 'eval-ah.json');
    const r = cli(['evaluate', ...labeled, '--after-handshake', '--first-packets', '5', '--seeds', '2', '--models', 'rf,gbdt', '--folds', '3', '--report', report]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Over 2 seeds:$/m);
    assert.match(r.stdout, /^\| RF, split by capture \| [\d.]+ ± [\d.]+ \/ [\d.]+ ± [\d.]+ \|/m);
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    assert.deepEqual(rep.inputs, { exclude: [], withArtefacts: false, afterHandshake: true, firstPackets: 5 });
    assert.deepEqual(rep.seeds, [1, 2]);
    const rf = rep.results.find((x: { model: string; task: string; split: string }) => x.model === 'RF' && x.task === 'app' && x.split === 'group-kfold');
    assert.ok(rf.importances.length > 0 && rf.importances.every((i: { feature: string }) => i.feature.startsWith('ah_')), JSON.stringify(rf.importances));
    // The printed mean is the mean of the two runs' macro-F1, and the SD theirs (n - 1), by hand.
    const f1 = rep.bySeed.map((run: Array<{ model: string; task: string; split: string; macroF1: number }>) => run.find((x) => x.model === 'RF' && x.task === 'app' && x.split === 'group-kfold')!.macroF1);
    const mean = (f1[0] + f1[1]) / 2;
    const sd = Math.abs(f1[0] - f1[1]) / Math.SQRT2;
    const line = r.stdout.split('\n').filter((l) => l.startsWith('| RF, split by capture |'))[1];
    assert.ok(line.startsWith(`| RF, split by capture | ${(mean * 100).toFixed(1)} ± ${(sd * 100).toFixed(1)} / `), line);
    // The LSTM reads every packet's series: refused, not run on the handshake quietly.
    const lstm = cli(['evaluate', ...labeled, '--after-handshake', '--models', 'lstm']);
    assert.notEqual(lstm.status, 0);
    assert.match(lstm.stderr, /handshake included/);
  });

  it('the LSTM through the command line: label --features all, evaluate --models lstm, train --kind lstm, classify', () => {
    const data = join(SHARED, 'datasets/whatsapp-web-actions');
    const labeled = labelWhatsApp(data, dir, [
      ['userA-text-messages.pcapng', 'text'],
      ['userA-pictures.pcapng', 'picture'],
    ], ['--features', 'all'], 'series-');
    const ev = cli(['evaluate', ...labeled, '--models', 'lstm', '--lstm-batches', '20', '--folds', '3', '--report', join(dir, 'eval-lstm.json')]);
    assert.equal(ev.status, 0, ev.stderr);
    assert.match(ev.stdout, /^\| LSTM, split by capture \| [0-9.]+ \[/m);
    assert.doesNotMatch(ev.stdout, /^\| RF/m);
    const report = JSON.parse(readFileSync(join(dir, 'eval-lstm.json'), 'utf8'));
    const action = report.results.find((r: { task: string; split: string }) => r.task === 'action:WhatsApp' && r.split === 'group-kfold');
    assert.equal(action.model, 'LSTM');
    assert.equal(action.confusion.flat().reduce((a: number, b: number) => a + b, 0), action.rows);

    const model = join(dir, 'lstm-model');
    const tr = cli(['train', ...labeled, '--model', model, '--kind', 'lstm', '--lstm-batches', '20']);
    assert.equal(tr.status, 0, tr.stderr);
    const manifest = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
    assert.equal(manifest.kind, 'lstm');
    assert.deepEqual(manifest.features, ['series_pooled']);
    const c1 = cli(['classify', join(data, 'userA-videos.pcapng'), '--model', model]);
    const c2 = cli(['classify', join(data, 'userA-videos.pcapng'), '--model', model]);
    assert.equal(c1.status, 0, c1.stderr);
    assert.equal(c1.stdout, c2.stdout);
    const out = parseCsv(c1.stdout);
    const at = out[0].indexOf('predicted_app');
    assert.ok(out.length > 10);
    for (const r of out.slice(1)) {
      assert.ok(['WhatsApp', 'other', 'unknown'].includes(r[at]));
      if (r[at] === 'WhatsApp') assert.ok(['text', 'picture', 'impertinent'].includes(r[at + 2]), r.join(','));
    }
    const bad = cli(['evaluate', labeled[0], '--models', 'lstm,xgboost']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /unknown model xgboost/);
    const plain = join(dir, 'no-series.csv');
    assert.equal(cli(['label', join(data, 'userA-text-messages.pcapng'), '--capture-action', 'WhatsApp/text', '-o', plain, '-q']).status, 0);
    const noSeries = cli(['train', plain, '--model', join(dir, 'x'), '--kind', 'lstm']);
    assert.equal(noSeries.status, 1);
    assert.match(noSeries.stderr, /series_pooled/);
  });

  it('docs/schema.md is the generated schema', () => {
    assert.equal(readFileSync(join(ROOT, 'docs/schema.md'), 'utf8'), schemaMarkdown([...flowColumns(flowPlugins({ groups: [...FEATURE_GROUPS, ...OPTIONAL_GROUPS] }), true), ...LABEL_COLUMNS]));
  });

  const file = join(PCAPS, 'dns-udp-edns-ecs-ipv4-ipv6.pcap');

  it('CSV, JSON Lines and Parquet hold the same records', async () => {
    const csv = cli(['flows', file, '-q']);
    assert.equal(csv.status, 0, csv.stderr);
    const rows = parseCsv(csv.stdout);
    const header = rows[0];
    assert.deepEqual(header, flowColumns().map((c) => c.name));
    const jsonl = cli(['flows', file, '-q', '--format', 'jsonl']);
    const objs = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(objs.length, rows.length - 1);
    assert.ok(objs.length > 10);
    // Same values, cell by cell (numbers compared as text of the same double). JSON.parse cannot hold 64-bit
    // integers, so those are compared on the raw JSON text.
    const lines = jsonl.stdout.trim().split('\n');
    const int64 = new Set(flowColumns().filter((c) => c.type === 'int64').map((c) => c.name));
    objs.forEach((o, i) =>
      header.forEach((h, j) => {
        const v = int64.has(h) ? new RegExp(`"${h}":(-?\\d+)`).exec(lines[i])?.[1] : asCsv(o[h]);
        assert.equal(v, rows[i + 1][j], `${h} of row ${i}`);
      }),
    );
    // Timestamps stay exact 19-digit integers in JSON text.
    assert.match(jsonl.stdout, /"first_seen_ns":\d{19},/);

    const pq = join(dir, 'flows.parquet');
    const r = cli(['flows', file, '-q', '-o', pq]);
    assert.equal(r.status, 0, r.stderr);
    const { readParquet } = await import('parquet-wasm/node');
    const arrow = await import('apache-arrow');
    const table = arrow.tableFromIPC(readParquet(readFileSync(pq)).intoIPCStream());
    assert.equal(table.numRows, objs.length);
    const t = table.toArray().map((x) => x.toJSON());
    // Arrow's row objects give a nanosecond timestamp as milliseconds in a double; its exact values are checked
    // through DuckDB in test/output/types.test.ts.
    const stamps = new Set(flowColumns().filter((c) => c.type === 'timestamp').map((c) => c.name));
    assert.ok(stamps.size > 0);
    rows.slice(1).forEach((row, i) => {
      header.forEach((h, j) => {
        if (stamps.has(h)) return;
        assert.equal(asCsv(t[i][h]), row[j], `${h} of row ${i}`);
      });
    });
  });

  it('reads standard input', () => {
    const a = cli(['flows', file, '-q', '--format', 'jsonl']).stdout.replaceAll(`"capture":${JSON.stringify(file)}`, '');
    const b = cli(['flows', '-', '-q', '--format', 'jsonl'], readFileSync(file)).stdout.replaceAll('"capture":"<stdin>"', '');
    assert.equal(b, a);
  });

  it('bad input: a clear message with file, offset and packet; --strict fails the run', () => {
    const cut = join(PCAPS, 'pcap-truncated-cut-short.pcap');
    const r = cli(['flows', cut, '-o', join(dir, 'cut.csv')]);
    assert.equal(r.status, 0);
    assert.match(r.stderr, new RegExp(`${cut.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: error at byte offset 240, packet 2: file ends inside a record header`));
    assert.match(r.stderr, /1 packets, 1 metered \(udp=1\), 1 flows/);
    const strict = cli(['flows', cut, '--strict', '-o', join(dir, 'cut2.csv')]);
    assert.equal(strict.status, 2);
    const notCapture = cli(['flows', join(ROOT, 'package.json'), '-o', join(dir, 'x.csv')]);
    assert.equal(notCapture.status, 1);
    assert.match(notCapture.stderr, /package\.json: byte offset 0: unknown file magic/);
    const missing = cli(['flows', join(dir, 'nope.pcap'), '-o', join(dir, 'y.csv')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /ENOENT/);
  });

  it('summary line names packets, flows, drops and speed', () => {
    const r = cli(['flows', join(PCAPS, 'noise-arp-icmp.pcap'), '-o', join(dir, 'n.csv')]);
    assert.match(r.stderr, /6 packets, \d+ metered \(icmp=\d+\), \d+ flows \(\d+ records\), dropped: non-ip:arp=\d+.* packets\/s, [\d.]+ MB\/s/);
  });

  it('info describes a pcapng capture', () => {
    const r = cli(['info', '--json', join(PCAPS, 'pcapng-2if-comments-keylog.pcapng')]);
    const info = JSON.parse(r.stdout);
    assert.equal(info.format, 'pcapng');
    assert.equal(info.interfaces.length, 2);
    assert.deepEqual(info.interfaces.map((i: { tsUnitsPerSec: number }) => i.tsUnitsPerSec).sort(), [1e6, 1e9]);
    assert.equal(info.packets, 159);
  });
});
