import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readRecordsCsv } from '../../src/dataset/records.js';
import { readActionLog } from '../../src/label/actions.js';
import { labeledColumns } from '../../src/label/label-capture.js';
import { DEFAULT_SLACK_AFTER_NS, DEFAULT_SLACK_BEFORE_NS } from '../../src/label/labeler.js';
import { networkHosts } from '../../src/testbed/apps.js';
import { runTestbed } from '../../src/testbed/harness.js';
import { spawn } from 'node:child_process';
import { LINK_PROFILES, TestbedNetwork, expectedHandshakeRttMs, namespacesAvailable } from '../../src/testbed/netns.js';
import { OS_HOSTS } from '../../src/testbed/os-background.js';
import { loadScenario } from '../../src/testbed/scenario.js';
import { tshark } from '../helpers/tshark.js';

/**
 * The testbed as a phone on Wi-Fi sees it: two devices in network namespaces of their own behind an access point
 * namespace, a real resolver (dnsmasq) and the apps in a servers' namespace; the capture is the access point's,
 * checked with tshark.
 */
const ready = existsSync('/usr/bin/chromium') && existsSync('/usr/bin/chromedriver') && existsSync('/usr/bin/tshark') && existsSync('/usr/sbin/dnsmasq') && namespacesAvailable();
const skip = !ready && process.env.CI !== 'true' ? 'needs root for network namespaces, chromium, chromedriver, tshark and dnsmasq (scripts/setup.sh installs them)' : false;
const tmp = mkdtempSync(join(tmpdir(), 'cipherscope-netns-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const fields = (capture: string, filter: string, ...names: string[]): string[][] =>
  tshark(['-r', capture, '-Y', filter, '-T', 'fields', '-E', 'occurrence=f', ...names.flatMap((n) => ['-e', n])])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));

describe('testbed in network namespaces: devices, an access point, a resolver and the apps', { skip, timeout: 600_000 }, () => {
  it('the capture is what an access point sees: MTU-sized frames, both devices, real DNS answers, background, exact labels', async () => {
    const { scenario, path } = loadScenario('ci-small');
    const out = join(tmp, 'run');
    const run = await runTestbed({ scenario, scenarioPath: path, out, seed: 7, capture: { kind: 'interface', iface: 'lo', tool: 'dumpcap' }, users: 2, repetitions: 1, network: 'netns', link: 'wifi' });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.network.mode, 'netns');
    assert.deepEqual(manifest.network.link, LINK_PROFILES.wifi);
    assert.equal(manifest.capture.command.slice(0, 4).join(' '), `ip netns exec ${manifest.capture.command[3]}`);
    const capture = join(out, 'capture.pcapng');
    const devices: string[] = manifest.network.devices.map((d: { addr: string }) => d.addr);
    assert.equal(devices.length, 2);

    // 1. Nothing above the 1,500-byte MTU (Ethernet frames of at most 1,514 bytes), though uploads are large.
    const lens = fields(capture, 'frame', 'frame.len').map(([l]) => Number(l));
    assert.ok(lens.length > 500, `${lens.length} frames`);
    assert.ok(Math.max(...lens) <= 1514, `largest frame ${Math.max(...lens)}`);
    assert.ok(lens.filter((l) => l > 1400).length > 20, 'full-size segments are there');

    // 2. Only the testbed's network: the devices, the servers' public addresses; no loopback, no WebDriver.
    const hosts = networkHosts();
    const servers = new Set([...hosts.map((h) => h.addr), ...OS_HOSTS.map((h) => h.addr), '192.0.2.53']);
    for (const [src, dst] of fields(capture, 'ip', 'ip.src', 'ip.dst')) {
      for (const a of [src, dst]) assert.ok(devices.includes(a) || servers.has(a), `address ${a} in the capture`);
    }
    for (const d of devices) assert.ok(fields(capture, `ip.src==${d} && tcp.flags.syn==1`, 'frame.number').length > 0, `device ${d} opened connections`);

    // 3. Real DNS on the wire: every app name answered with its address, by the resolver, to the devices.
    const answers = fields(capture, 'dns.flags.response==1 && dns.a', 'dns.qry.name', 'dns.a', 'ip.dst');
    // (attachments.mail.testbed only serves the reads that open an attachment, 30 % of them: maybe none here.)
    for (const h of hosts.filter((x) => x.host !== 'attachments.mail.testbed')) assert.ok(answers.some(([n, a]) => n === h.host && a === h.addr), `DNS answer for ${h.host}`);

    // 4. Two real TLS stacks: caddy (TLS 1.3, and HTTP/3 over QUIC for the social and video apps) and nginx
    // (OpenSSL, TLS 1.2): two ServerHello fingerprints, and QUIC flows whose handshake we decrypt as tshark does.
    const ja3s = new Set(fields(capture, 'tls.handshake.type==2', 'tls.handshake.ja3s').map(([j]) => j));
    assert.ok(ja3s.size >= 2, `JA3S: ${[...ja3s].join(' ')}`);
    const quicServers = new Set(fields(capture, 'quic && udp.srcport==8443', 'ip.src').map(([a]) => a));
    for (const h of hosts.filter((x) => x.quic)) assert.ok(quicServers.has(h.addr), `QUIC from ${h.host}`);
    assert.deepEqual(manifest.network.servers['chat.testbed'], 'nginx (OpenSSL, TLS 1.2; HTTP/2)');

    // 5. The records, labeled: every action of each device has flows of its own device and app; nothing is labeled
    // with an action it did not overlap; background (DNS, the browsers' own lookups, telemetry) is impertinent.
    const actions = readActionLog(join(out, 'actions.jsonl'));
    assert.equal(actions.length, run.actions);
    assert.deepEqual(new Set(actions.map((a) => a.clientAddr)), new Set(devices));
    const t = readRecordsCsv(join(out, 'flows.csv'), labeledColumns());
    const rows = t.rows.map((r) => Object.fromEntries(t.names.map((n, i) => [n, r[i]])));
    for (const a of actions) {
      const mine = rows.filter((r) => r.label_action_seq === a.seq);
      assert.ok(mine.length > 0, `action ${a.seq} ${a.app}/${a.action} has no flow`);
      for (const r of mine) {
        assert.equal(r.client_addr, a.clientAddr, 'a flow of the device that acted');
        assert.equal(r.app, a.app);
        assert.ok((r.first_seen_ns as bigint) <= a.endNs + DEFAULT_SLACK_AFTER_NS && (r.last_seen_ns as bigint) >= a.startNs - DEFAULT_SLACK_BEFORE_NS, `flow ${r.flow_id} overlaps action ${a.seq}`);
      }
    }
    const dns = rows.filter((r) => r.server_port === 53);
    assert.ok(dns.length > 0 && dns.every((r) => r.label_action === 'impertinent'), 'DNS flows are background');
    assert.ok(rows.some((r) => r.app === null && r.server_port === 53 && r.dns_rcode === 3), "the browsers' own lookups (NXDOMAIN) are in the capture");
    assert.ok(rows.some((r) => r.app !== null && r.app_evidence !== null), 'flows are named');
    assert.ok(rows.some((r) => r.protocol === 17 && r.quic_version === 1 && (r.app === 'Social' || r.app === 'Video')), 'QUIC flows decrypted and named');
    // The telemetry service is no app's: its flows stay unnamed, whatever certificate it sends in the clear.
    const telemetry = hosts.find((h) => h.host === 'telemetry.testbed')!.addr;
    assert.ok(rows.filter((r) => r.server_addr === telemetry).every((r) => r.app === null && r.label_action === 'impertinent'));

    // 6. Handshake round trips at the access point: the profile's air and wan delays, each way, through the radio.
    const shaping = manifest.network.shaping as { by: string; counts: Record<string, { frames: number; lost: number }> };
    assert.match(shaping.by, /radio\.py/);
    assert.ok(Object.values(shaping.counts).reduce((n, c) => n + c.frames, 0) > lens.length, 'the radio relayed every captured frame');
    const rtts = fields(capture, 'tcp.flags.syn==0 && tcp.flags.ack==1 && tcp.seq==1 && tcp.ack==1 && tcp.analysis.initial_rtt', 'tcp.analysis.initial_rtt').map(([v]) => Number(v) * 1000);
    rtts.sort((a, b) => a - b);
    const median = rtts[Math.floor(rtts.length / 2)];
    const want = expectedHandshakeRttMs(LINK_PROFILES.wifi);
    // The radio is a user-space process: on a loaded machine (other tests, browsers) it wakes late, so the bound
    // above is loose; the bound below is what shows the profile's delay is there.
    assert.ok(rtts.length >= 10 && median > want * 0.85 && median < want * 2, `median initial RTT ${median} ms of ${rtts.length} handshakes, profile ${want} ms`);
    // 7. Several names per app, seen in the ClientHellos; the CDN two apps share is named by no rule.
    for (const app of ['Social', 'Video']) {
      const names = new Set(rows.filter((r) => r.app === app && r.tls_sni !== null).map((r) => r.tls_sni));
      assert.ok(names.size >= 2, `${app} flows went to ${[...names].join(', ')}`);
    }
    const shared = rows.filter((r) => r.tls_sni === 'static.sharedcdn.testbed');
    assert.ok(shared.length > 0 && shared.every((r) => r.app === null && r.label_action === 'impertinent'), 'shared CDN flows: no app');

    // 8. The OS background of each device next to the apps: SNTP answers, 204 connectivity checks, the push
    // channel's TLS connection; all of it impertinent.
    for (const d of devices) {
      assert.ok(fields(capture, `ntp.flags.mode==4 && ip.dst==${d}`, 'frame.number').length > 0, `SNTP answer to ${d}`);
      assert.ok(fields(capture, `http.response.code==204 && ip.dst==${d}`, 'frame.number').length > 0, `connectivity check of ${d}`);
      assert.ok(fields(capture, `tls.handshake.extensions_server_name=="mtalk.os.testbed" && ip.src==${d}`, 'frame.number').length > 0, `push channel of ${d}`);
    }
    const os = rows.filter((r) => OS_HOSTS.some((h) => h.addr === r.server_addr));
    assert.ok(os.length >= 6 && os.every((r) => r.app === null && r.label_action === 'impertinent'), `${os.length} OS background flows, impertinent`);
    for (const b of manifest.network.os_background.per_device as Array<{ ntp: number; checks: number; errors: string[] }>) assert.ok(b.ntp > 0 && b.checks > 0 && b.errors.length === 0, JSON.stringify(b));

    // 9. The devices act at the same time: some actions of one overlap actions of the other.
    const [d1, d2] = devices.map((d) => actions.filter((a) => a.clientAddr === d));
    assert.ok(d1.some((a) => d2.some((b) => a.startNs < b.endNs && b.startNs < a.endNs)), 'no two actions of the two devices overlap');

    // 10. Nothing is left behind: the namespaces are gone.
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    const prefix = String(manifest.network.namespaces).replace(/\*$/, '');
    assert.ok(prefix.length > 3 && !left.includes(prefix), `${prefix} namespaces left: ${left}`);
  });

  it('two testbeds at once never see each other\'s packets, though they use the same addresses', async () => {
    const a = await TestbedNetwork.create({ devices: 1, serverAddrs: ['192.0.2.11'] });
    const b = await TestbedNetwork.create({ devices: 1, serverAddrs: ['192.0.2.11'] });
    try {
      assert.notEqual(a.ap, b.ap);
      const file = (n: TestbedNetwork) => join(tmp, `${n.id}.pcapng`);
      const captures = [a, b].map((n) => spawn('ip', ['netns', 'exec', n.ap, 'dumpcap', '-i', n.devices[0].apIface, '-w', file(n), '-q'], { stdio: ['ignore', 'ignore', 'pipe'] }));
      await Promise.all(captures.map((c) => new Promise<void>((r) => c.stderr!.on('data', (d: Buffer) => /Capturing on/.test(d.toString()) && r()))));
      // A UDP datagram from testbed a's device to its server, 40 times; nothing from b's.
      execFileSync('ip', ['netns', 'exec', a.devices[0].ns, process.execPath, '-e', "const s=require('dgram').createSocket('udp4');let n=0;const t=setInterval(()=>{s.send('x',9,'192.0.2.11');if(++n===40){clearInterval(t);s.close()}},5)"]);
      await new Promise((r) => setTimeout(r, 500));
      for (const c of captures) {
        const done = new Promise((r) => c.once('exit', r));
        c.kill('SIGINT');
        await done;
      }
      const count = (n: TestbedNetwork) => fields(file(n), 'udp.dstport==9 && !icmp', 'frame.number').length;
      // (One may be missed around dumpcap's start; what matters is that b sees none.)
      assert.ok(count(a) >= 35, `testbed a captured ${count(a)} of its 40 datagrams`);
      assert.equal(count(b), 0, "testbed b saw a's datagrams");
    } finally {
      await a.destroy();
      await b.destroy();
    }
  });
});
