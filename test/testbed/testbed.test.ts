import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppMatcher, loadAppRules } from '../../src/features/apps.js';
import { readActionLog } from '../../src/label/actions.js';
import { DEFAULT_LABEL_BURST_GAP_SEC, labelCapture, labeledColumns } from '../../src/label/label-capture.js';
import { DEFAULT_SLACK_AFTER_NS, DEFAULT_SLACK_BEFORE_NS } from '../../src/label/labeler.js';
import { TESTBED_HOSTS, TestbedApps, chromiumTestbedArgs, pageUrl } from '../../src/testbed/apps.js';
import { CHROMIUM_FLAGS, ChromeDriverServer, freePort } from '../../src/testbed/driver.js';
import { TESTBED_RULES, runTestbed } from '../../src/testbed/harness.js';
import { loadScenario } from '../../src/testbed/scenario.js';
import { readRecordsCsv } from '../../src/dataset/records.js';
import { clusterClassification, earlyClassification, evaluateModels, openWorld } from '../../src/models/evaluate.js';
import { flowsOf } from '../helpers/flows.js';
import { PCAPS, tshark } from '../helpers/tshark.js';

/**
 * The testbed in real headless Chromium (Debian chromium + chromium-driver),
 * captured on the loopback interface by tshark, labeled from the action log; and the WebDriver-server path (the
 * one Appium takes) with the adb capture path, where a fake adb streams a real capture because no phone is here.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const FAKE_ADB = join(HERE, '../helpers/fake-adb/adb');
const haveBrowser = existsSync('/usr/bin/chromium') && existsSync('/usr/bin/chromedriver') && existsSync('/usr/bin/tshark');
// CI installs them (scripts/setup.sh); elsewhere the tests say why they did not run.
const skip = !haveBrowser && process.env.CI !== 'true' ? 'chromium, chromedriver or tshark not installed (scripts/setup.sh installs them)' : false;

const tmp = mkdtempSync(join(tmpdir(), 'cipherscope-testbed-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('testbed: scripted actions in headless Chromium, captured and labeled', { skip, timeout: 600_000 }, () => {
  it('every action has a flow of its app labeled with it, no flow carries an action it did not overlap, background is impertinent', async () => {
    const { scenario, path } = loadScenario('ci-small');
    const out = join(tmp, 'run');
    const run = await runTestbed({ scenario, scenarioPath: path, out, seed: 3, capture: { kind: 'interface', iface: 'lo', tool: 'tshark', filter: '' }, users: 1, repetitions: 1, port: await freePort() });
    const actions = readActionLog(join(out, 'actions.jsonl'));
    assert.equal(actions.length, scenario.actions.length);
    assert.equal(run.report.actions, actions.length);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.match(manifest.what, /testbed, not the real apps/);
    assert.equal(manifest.capture.command[0], 'tshark');
    assert.match(manifest.tools.chromium, /Chromium/);

    // Label again from the files on disk, keeping typed values.
    const rows: Array<Record<string, unknown>> = [];
    const capture = join(out, 'capture.pcapng');
    const names = labeledColumns().map((c) => c.name);
    const res = await labelCapture(capture, actions, { apps: new AppMatcher(loadAppRules(TESTBED_RULES)) }, (r) => rows.push(Object.fromEntries(names.map((n, i) => [n, r[i]]))));
    assert.deepEqual(res.report, { ...run.report, capture });

    const window = (seq: number) => {
      const a = actions[seq];
      return [a.startNs - DEFAULT_SLACK_BEFORE_NS, a.endNs + DEFAULT_SLACK_AFTER_NS];
    };
    const overlaps = (r: Record<string, unknown>, seq: number) => {
      const [s, e] = window(seq);
      return (r.first_seen_ns as bigint) <= e && (r.last_seen_ns as bigint) >= s;
    };
    // 1. Every action: at least one record of its app labeled with it.
    for (const a of actions) {
      const mine = rows.filter((r) => r.label_action_seq === a.seq);
      assert.ok(mine.length > 0, `action ${a.seq} ${a.app}/${a.action} has no flow`);
      for (const r of mine) {
        assert.equal(r.app, a.app);
        assert.equal(r.label_action, a.action);
      }
    }
    // 2. No record carries an action it did not overlap, or of another app.
    for (const r of rows.filter((x) => typeof x.label_action_seq === 'number')) {
      const a = actions[r.label_action_seq as number];
      assert.ok(overlaps(r, a.seq), `flow ${r.flow_id}/${r.segment} labeled ${a.action} without overlapping it`);
      assert.equal(r.label_app, a.app);
    }
    // 3. Background: telemetry beacons, the WebDriver traffic and everything outside every action window.
    const telemetry = TESTBED_HOSTS.find((h) => h.host === 'telemetry.testbed')!.addr;
    const beacons = rows.filter((r) => r.server_addr === telemetry);
    assert.ok(beacons.length > 0, 'telemetry beacons were captured');
    const outside = rows.filter((r) => !actions.some((a) => overlaps(r, a.seq)));
    assert.ok(outside.length > 0);
    for (const r of [...beacons, ...outside, ...rows.filter((x) => x.app === null)]) assert.equal(r.label_action, 'impertinent', `flow ${r.flow_id} to ${r.server_addr}`);
    assert.ok(rows.some((r) => r.app === null && r.server_addr === '127.0.0.1'), 'the WebDriver session itself is in the capture');
    // Chat is one long-lived WebSocket: split into bursts, its later segments keep the app.
    assert.ok(rows.some((r) => r.app === 'Chat' && r.app_evidence === 'previous-segment' && r.label_action === 'send_message'));

    // Cross-check with tshark: the TCP connections to each testbed address (a client port may be used again by a
    // later connection: one per port and initial sequence number, so a retransmitted SYN is not a second one),
    // and their SNI.
    for (const addr of new Set(TESTBED_HOSTS.map((h) => h.addr))) {
      const syns = tshark(['-r', capture, '-Y', `ip.dst==${addr} && tcp.flags.syn==1 && tcp.flags.ack==0`, '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.seq_raw']).split('\n').filter(Boolean);
      const ours = rows.filter((r) => r.server_addr === addr && r.protocol === 6 && r.segment === 0 && r.initiator_rule === 'syn');
      assert.equal(ours.length, new Set(syns).size, `TCP connections to ${addr}`);
    }
    // The labeled file feeds the evaluation: every app and action task, open world and early classification run.
    const table = readRecordsCsv(join(out, 'flows.csv'), labeledColumns());
    assert.equal(table.rows.length, rows.length);
    // One capture: time blocks within it (the table says it is not capture-disjoint).
    // Closed world here, so the app task and end to end score the same flows (open set: test/cli/cli.test.ts).
    const opts = { folds: 2, seed: 1, groupBy: 'block' as const, closedWorld: true };
    const results = await evaluateModels(table, labeledColumns(), opts);
    assert.match(results.find((r) => r.task === 'app' && r.split === 'group-kfold')!.splitPlan!.label, /^2-fold by time block \(8 blocks of 1 capture\(s\); not capture-disjoint\)$/);
    assert.deepEqual([...new Set(results.map((r) => r.task))].sort(), ['action:Chat', 'action:Mail', 'action:Social', 'action:Video', 'app', 'end-to-end']);
    for (const r of results) assert.equal(r.confusion.flat().reduce((a, b) => a + b, 0), r.rows);
    // End to end a flow needs both its app and its action right: never above the app task, flow for flow.
    for (const model of ['RF', 'SVM']) {
      const e2e = results.find((r) => r.model === model && r.task === 'end-to-end')!;
      const appTask = results.find((r) => r.model === model && r.task === 'app' && r.split === 'group-kfold')!;
      assert.equal(e2e.rows, appTask.rows);
      assert.ok(e2e.accuracy <= appTask.accuracy, `${model}: ${e2e.accuracy} > ${appTask.accuracy}`);
    }
    const clusters = await clusterClassification(table, opts);
    assert.equal(clusters[0].streams, 1);
    for (const c of clusters) assert.ok(c.accuracy >= 0 && c.accuracy <= 1 && c.confidence > 0 && c.confidence <= 1);
    assert.equal((await openWorld(table, labeledColumns(), opts)).length, 4);
    assert.deepEqual((await earlyClassification(table, opts)).map((e) => e.packets), [1, 2, 3, 5, 10, 20]);
    // Each flow's SNI is that of the latest ClientHello from its client port before the flow's last packet (a port
    // a later connection used again has a later hello; a later burst of a connection keeps its hello's name).
    const sni = tshark(['-r', capture, '-Y', 'tls.handshake.type==1', '-T', 'fields', '-e', 'tcp.srcport', '-e', 'frame.time_epoch', '-e', 'tls.handshake.extensions_server_name']);
    const hellos = sni.split('\n').filter(Boolean).map((l) => l.split('\t')).map(([port, time, name]) => ({ port: Number(port), ns: epochNs(time), name }));
    for (const r of rows.filter((x) => x.tls_sni)) {
      const before = hellos.filter((h) => h.port === Number(r.client_port) && h.ns <= BigInt(r.last_seen_ns as bigint));
      const latest = before.reduce<(typeof hellos)[number] | undefined>((a, h) => (a === undefined || h.ns >= a.ns ? h : a), undefined);
      assert.equal(r.tls_sni, latest?.name, `SNI of flow ${r.flow_id}`);
    }
  });

  it('by default, captures on lo only the testbed addresses (not chromedriver\'s DevTools traffic)', async () => {
    const { scenario, path } = loadScenario('ci-small');
    const one = { ...scenario, actions: scenario.actions.filter((a) => a.action === 'post_text') };
    const out = join(tmp, 'filtered');
    const port = await freePort();
    const run = await runTestbed({ scenario: one, scenarioPath: path, out, seed: 5, capture: { kind: 'interface', iface: 'lo' }, users: 1, repetitions: 1, port });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.capture.command.slice(-2), ['-f', `net 127.0.0.8/29 and tcp port ${port}`]);
    const { rows } = await flowsOf(manifest.capture.file, { flow: { burstGapSec: DEFAULT_LABEL_BURST_GAP_SEC } });
    assert.equal(rows.length, run.records);
    assert.ok(rows.length > 0);
    for (const r of rows) assert.match(String(r.server_addr), /^127\.0\.0\.(1[0-5])$/);
    assert.equal(run.report.actionsWithoutFlow.length, 0);
  });

  it('a scenario against a WebDriver server (the Appium path) with capture over adb (a fake adb streams a real capture)', async () => {
    // The same StepRunner that talks to Appium talks to chromedriver here; only the URL and capabilities differ.
    const apps = new TestbedApps({ seed: 9, port: await freePort() });
    await apps.start();
    const driver = await ChromeDriverServer.start();
    const pcap = join(PCAPS, 'tls12-sni-chrome34-google.pcap');
    const log = join(tmp, 'adb.log');
    process.env.FAKE_ADB_PCAP = pcap;
    process.env.FAKE_ADB_LOG = log;
    try {
      const { scenario, path } = loadScenario('ci-small');
      const webdriverScenario = {
        ...scenario,
        name: 'webdriver-small',
        target: 'webdriver' as const,
        pages: Object.fromEntries(Object.keys(scenario.pages).map((p) => [p, pageUrl(p, apps.port)])),
        rules: '../rules/testbed-apps.json',
        capabilities: { browserName: 'chrome', 'goog:chromeOptions': { binary: '/usr/bin/chromium', args: [...CHROMIUM_FLAGS, ...chromiumTestbedArgs(apps.spkiSha256)] } },
        actions: scenario.actions.filter((a) => a.action === 'post_text' || a.action === 'send_message'),
      };
      const out = join(tmp, 'adb-run');
      const run = await runTestbed({ scenario: webdriverScenario, scenarioPath: path, out, seed: 4, capture: { kind: 'adb', serial: 'FAKE0001', adb: FAKE_ADB }, webdriverUrl: driver.url, users: 1, repetitions: 1 });
      assert.equal(run.actions, 2);
      // Everything the "phone" sent is in the capture, byte for byte, and the stop did not lose the end.
      assert.deepEqual(readFileSync(join(out, 'capture.pcap')), readFileSync(pcap));
      assert.match(readFileSync(log, 'utf8'), /^-s FAKE0001 exec-out tcpdump -i any -U -w -$/m);
      const { rows } = await flowsOf(pcap, { flow: { burstGapSec: DEFAULT_LABEL_BURST_GAP_SEC } });
      assert.equal(run.records, rows.length);
      assert.equal(run.report.byAction.impertinent, rows.length, 'no testbed traffic in the phone capture: all impertinent');
      assert.equal(run.report.actionsWithoutFlow.length, 2);
      assert.ok(apps.requests > 0, 'the browser reached the testbed apps through the WebDriver server');
    } finally {
      delete process.env.FAKE_ADB_PCAP;
      delete process.env.FAKE_ADB_LOG;
      await driver.stop();
      await apps.stop();
    }
  });
});

/** tshark's frame.time_epoch ("seconds.fraction", however many fraction digits it prints) in nanoseconds. */
function epochNs(text: string): bigint {
  const [sec, frac = ''] = text.split('.');
  return BigInt(sec) * 1_000_000_000n + BigInt(`${frac}000000000`.slice(0, 9));
}
