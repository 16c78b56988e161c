import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { parseCsv } from '../helpers/csv.js';
import { DARWIN_PROCESSES, applePcapng } from '../helpers/darwin.js';
import { flowsOf } from '../helpers/flows.js';
import type { CaptureIssue } from '../../src/pcap/types.js';
import { tempDir } from '../helpers/temp.js';
import { PCAPS, haveTshark, tshark, tsharkConversations } from '../helpers/tshark.js';

/**
 * Apple's pcapng process blocks (src/pcap/darwin.ts): real captures rewritten as macOS's tcpdump writes a pktap
 * capture in pcapng (test/helpers/darwin.ts), in two sections that each number their processes from 0. Each flow's
 * process is its first packet's, as tshark's pcapng file dissector reads the blocks (the effective process where the
 * packet names one, as for PKTAP's pth_ecomm).
 */
const dir = tempDir('cs-darwin-');
const SOURCES = ['tls12-https-heise-offers13.pcap', 'tls-quic-ipv6-cloudflare.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap'];
const rewritten = (src: string) => {
  const out = join(dir, src.replace(/\.pcap$/, '.pcapng'));
  writeFileSync(out, applePcapng(join(PCAPS, src)));
  return out;
};

/** Each frame's process (name and id) as tshark's file-pcapng dissector reads the blocks, by frame number. */
function tsharkProcesses(file: string): Array<{ name: string; pid: number } | undefined> {
  const text = tshark(['-X', 'read_format:MIME Files Format', '-r', file, '-V']);
  const frames: Array<{ name: string; pid: number } | undefined> = [];
  let processes: Array<{ name: string; pid: number }> = [];
  let block = '';
  let owner = -1;
  let effective = -1;
  const endPacket = () => {
    if (block === 'Enhanced Packet Block') frames.push(processes[effective >= 0 ? effective : owner]);
  };
  for (const line of text.split('\n')) {
    const b = /^ {4}Block: (.+?) \d+$/.exec(line);
    if (b !== null) {
      endPacket();
      block = b[1];
      owner = -1;
      effective = -1;
      if (block === 'Section Header Block') processes = [];
      if (block === 'Darwin Process Event Block') processes.push({ name: '', pid: -1 });
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^\s+Darwin Process ID: (\d+)/.exec(line)) !== null) processes[processes.length - 1].pid = Number(m[1]);
    else if ((m = /^\s+Darwin Process Name: (.+)$/.exec(line)) !== null) processes[processes.length - 1].name = m[1];
    else if ((m = /^\s+DPEB ID: (\d+)$/.exec(line)) !== null) owner = Number(m[1]);
    else if ((m = /^\s+Effective DPED ID: (\d+)$/.exec(line)) !== null) effective = Number(m[1]);
  }
  endPacket();
  return frames;
}

describe('Apple pcapng process blocks', () => {
  it("each flow is named with its first packet's process as tshark reads the blocks, on one thread and on two", { skip: !haveTshark() && 'tshark not installed' }, async () => {
    for (const src of SOURCES) {
      const file = rewritten(src);
      const conv = (f: string) => {
        const t = tsharkConversations(f);
        return [...t.tcp, ...t.udp].map((c) => `${c.a} ${c.b} ${c.framesAB} ${c.framesBA}`).sort();
      };
      assert.deepEqual(conv(file), conv(join(PCAPS, src)), src);
      const theirs = tsharkProcesses(file);
      const times = tshark(['-r', file, '-T', 'fields', '-e', 'frame.time_epoch']).trim().split('\n');
      assert.equal(theirs.length, times.length, `${src}: one process reading per frame`);
      const byTime = new Map(times.map((t, i) => [t.replace('.', '').replace(/^0+/, ''), theirs[i]]));
      const { rows } = await flowsOf(file);
      assert.ok(rows.length > 0);
      const names = new Set<string>();
      for (const r of rows) {
        const first = byTime.get(String(r.first_seen_ns));
        assert.ok(first !== undefined, `${src}: no process for the frame at ${r.first_seen_ns}`);
        assert.equal(r.device_app_name, first.name, `${src} flow at ${r.first_seen_ns}`);
        assert.equal(r.device_app_pid, first.pid);
        assert.equal(r.device_app_uid, null);
        names.add(first.name);
      }
      assert.ok([...names].every((n) => DARWIN_PROCESSES.some(([p]) => p === n)));
      // Shards number the processes as the main thread does.
      const cols = ['--columns', 'client_addr,client_port,server_addr,server_port,protocol,first_seen_ns,device_app_name,device_app_pid'];
      const one = cli(['flows', file, ...cols, '-o', '-', '-q']);
      const two = cli(['flows', file, '--threads', '2', ...cols, '-o', '-', '-q']);
      assert.equal(two.status, 0, two.stderr);
      assert.deepEqual(parseCsv(two.stdout).map(String).sort(), parseCsv(one.stdout).map(String).sort(), `${src}: --threads 2`);
      assert.equal(parseCsv(one.stdout).length, rows.length + 1);
    }
  });

  it('a flow named by its process is labeled first-hand (pktap evidence), and info counts the process blocks', () => {
    const file = rewritten(SOURCES[1]);
    const out = join(dir, 'labeled.csv');
    const l = cli(['label', file, '--capture-action', 'WhatsApp/chat', '--apps', 'pcapdroid', '-o', out, '-q']);
    assert.equal(l.status, 0, l.stderr);
    const [head, ...records] = parseCsv(readFileSync(out, 'utf8'));
    const [ia, ie, iname] = ['app', 'app_evidence', 'device_app_name'].map((c) => head.indexOf(c));
    assert.ok(records.length > 0);
    for (const cells of records) {
      assert.equal(cells[ie], 'pktap');
      assert.equal(cells[ia], cells[iname]);
    }
    const info = cli(['info', '--json', file]);
    assert.equal(info.status, 0, info.stderr);
    const procs = (JSON.parse(info.stdout) as { appleProcesses: Array<{ pid: number; name: string }> }).appleProcesses;
    // Two sections, each with the processes its packets name.
    assert.ok(procs.length > DARWIN_PROCESSES.length && procs.length <= 2 * DARWIN_PROCESSES.length, JSON.stringify(procs));
  });

  it('filter --app takes a process name the rules do not know, and names the apps of the capture for one it lacks', { skip: !haveTshark() && 'tshark not installed' }, () => {
    const file = rewritten(SOURCES[1]);
    const out = join(dir, 'safari.pcapng');
    const r = cli(['filter', file, '--app', 'Safari', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    // The capture's one Safari flow, as tshark finds its frames by its client port.
    const safari = parseCsv(cli(['flows', file, '--columns', 'protocol,client_port,device_app_name', '-o', '-', '-q']).stdout).filter((x) => x[2] === 'Safari');
    assert.equal(safari.length, 1);
    const frames = (f: string, filter: string[] = []) => tshark(['-r', f, ...filter, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').filter(Boolean).length;
    const want = frames(file, ['-Y', `tcp.port == ${safari[0][1]}`]);
    assert.ok(want > 10);
    assert.equal(frames(out), want);
    const typo = cli(['filter', file, '--app', 'Safary', '-o', join(dir, 'x.pcapng')]);
    assert.equal(typo.status, 1);
    assert.match(typo.stderr, /no app named "Safary" in the rules or in this capture; in the capture: Safari, WhatsApp;/);
  });

  it('filter into pcapng keeps each packet\'s process: the flows it keeps are named as in the input', async () => {
    for (const src of [SOURCES[1], SOURCES[2]]) {
      const file = rewritten(src);
      const out = join(dir, `kept-${src}.pcapng`);
      const r = cli(['filter', file, '-f', 'udp', '--keep-noise', '-o', out, '-q']);
      assert.equal(r.status, 0, r.stderr);
      const key = (x: Record<string, unknown>) => [x.protocol, x.client_addr, x.client_port, x.server_addr, x.server_port, x.first_seen_ns, x.packets, x.device_app_name, x.device_app_pid].map(String).join(' ');
      const want = (await flowsOf(file)).rows.filter((x) => x.protocol === 17).map(key).sort();
      assert.ok(want.length > 0);
      assert.deepEqual((await flowsOf(out)).rows.map(key).sort(), want, src);
    }
  });

  it('a packet naming a process its section has not declared is reported at its option and metered without a name', async () => {
    const b = applePcapng(join(PCAPS, SOURCES[0]));
    // The first packet block's owner option (0x8001) points at process 7.
    const at = b.indexOf(Buffer.from([0x01, 0x80, 0x04, 0x00]));
    assert.ok(at > 0);
    b.writeUInt32LE(7, at + 4);
    const issues: CaptureIssue[] = [];
    const r = await flowsOf(b, { onIssue: (i) => issues.push(i) });
    const issue = issues.find((i) => i.code === 'pcapng-darwin-process');
    assert.ok(issue !== undefined, JSON.stringify(issues));
    assert.equal(issue.offset, at + 4);
    assert.equal(issue.packet, 1);
    assert.match(issue.message, /process 7/);
    assert.equal(r.summary.packets, (await flowsOf(join(PCAPS, SOURCES[0]))).summary.packets);
    // The capture's one flow starts with that packet: no name; the other packets still carry theirs.
    assert.equal(r.rows.length, 1);
    assert.equal(r.rows[0].device_app_name, null);
  });

  it('a file of nothing but process blocks keeps 65,536 of them and says so once; a packet naming one past that goes unnamed', async () => {
    const b = applePcapng(join(PCAPS, SOURCES[0]));
    // After the first section's header and interface: 70,000 process blocks, then the packets, the first of which
    // names the last of them.
    const firstPacket = b.indexOf(Buffer.from([6, 0, 0, 0]), 28);
    const dpeb = Buffer.from([1, 0, 0, 0x80, 16, 0, 0, 0, 7, 0, 0, 0, 16, 0, 0, 0]);
    const firstDpeb = b.indexOf(Buffer.from([1, 0, 0, 0x80]), 28);
    const flood = Buffer.concat([b.subarray(0, firstDpeb), Buffer.concat(new Array(70_000).fill(dpeb)), b.subarray(firstDpeb)]);
    const opt = flood.indexOf(Buffer.from([0x01, 0x80, 0x04, 0x00]), firstPacket + 70_000 * 16 - 64);
    flood.writeUInt32LE(69_999, opt + 4);
    const issues: CaptureIssue[] = [];
    const r = await flowsOf(flood, { onIssue: (i) => issues.push(i) });
    const capped = issues.filter((i) => /more than 65536 Darwin process blocks/.test(i.message));
    assert.equal(capped.length, 1);
    assert.equal(capped[0].code, 'pcapng-metadata-bound');
    assert.equal(issues.length, 1, JSON.stringify(issues.slice(0, 3)));
    assert.equal(r.rows.length, 1);
    assert.equal(r.rows[0].device_app_name, null);
    assert.equal(r.summary.packets, (await flowsOf(join(PCAPS, SOURCES[0]))).summary.packets);
  });
});
