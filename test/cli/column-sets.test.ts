import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COLUMN_SETS } from '../../src/output/column-sets.js';
import { ROOT, cli } from '../helpers/cli.js';
import { parseCsv } from '../helpers/csv.js';
import { PCAPS, epochNs, tshark } from '../helpers/tshark.js';

/**
 * `--columns nfstream` and `--columns cicflowmeter`: the meters' own column names (nfstream's NFlow features as its
 * API documentation lists them; CICFlowMeter's CSV header from FlowFeature.java), in their order, and their units
 * and size accounting checked against tshark's per-stream frame lengths, TCP payload lengths and times.
 */
const NFSTREAM_NAMES = `id expiration_id src_ip src_mac src_oui src_port dst_ip dst_mac dst_oui dst_port protocol ip_version vlan_id tunnel_id
bidirectional_first_seen_ms bidirectional_last_seen_ms bidirectional_duration_ms bidirectional_packets bidirectional_bytes
src2dst_first_seen_ms src2dst_last_seen_ms src2dst_duration_ms src2dst_packets src2dst_bytes
dst2src_first_seen_ms dst2src_last_seen_ms dst2src_duration_ms dst2src_packets dst2src_bytes
application_name application_category_name application_is_guessed application_confidence requested_server_name client_fingerprint server_fingerprint user_agent content_type
bidirectional_min_ps bidirectional_mean_ps bidirectional_stddev_ps bidirectional_max_ps src2dst_min_ps src2dst_mean_ps src2dst_stddev_ps src2dst_max_ps
dst2src_min_ps dst2src_mean_ps dst2src_stddev_ps dst2src_max_ps bidirectional_min_piat_ms bidirectional_mean_piat_ms bidirectional_stddev_piat_ms bidirectional_max_piat_ms
src2dst_min_piat_ms src2dst_mean_piat_ms src2dst_stddev_piat_ms src2dst_max_piat_ms dst2src_min_piat_ms dst2src_mean_piat_ms dst2src_stddev_piat_ms dst2src_max_piat_ms
bidirectional_syn_packets bidirectional_cwr_packets bidirectional_ece_packets bidirectional_urg_packets bidirectional_ack_packets bidirectional_psh_packets bidirectional_rst_packets bidirectional_fin_packets
src2dst_syn_packets src2dst_cwr_packets src2dst_ece_packets src2dst_urg_packets src2dst_ack_packets src2dst_psh_packets src2dst_rst_packets src2dst_fin_packets
dst2src_syn_packets dst2src_cwr_packets dst2src_ece_packets dst2src_urg_packets dst2src_ack_packets dst2src_psh_packets dst2src_rst_packets dst2src_fin_packets
splt_direction splt_ps splt_piat_ms`.split(/\s+/);
const CIC_NAMES = [
  'Flow ID', 'Src IP', 'Src Port', 'Dst IP', 'Dst Port', 'Protocol', 'Timestamp', 'Flow Duration', 'Total Fwd Packet', 'Total Bwd packets', 'Total Length of Fwd Packet',
  'Total Length of Bwd Packet', 'Fwd Packet Length Max', 'Fwd Packet Length Min', 'Fwd Packet Length Mean', 'Fwd Packet Length Std', 'Bwd Packet Length Max',
  'Bwd Packet Length Min', 'Bwd Packet Length Mean', 'Bwd Packet Length Std', 'Flow Bytes/s', 'Flow Packets/s', 'Flow IAT Mean', 'Flow IAT Std', 'Flow IAT Max',
  'Flow IAT Min', 'Fwd IAT Total', 'Fwd IAT Mean', 'Fwd IAT Std', 'Fwd IAT Max', 'Fwd IAT Min', 'Bwd IAT Total', 'Bwd IAT Mean', 'Bwd IAT Std', 'Bwd IAT Max',
  'Bwd IAT Min', 'Fwd PSH Flags', 'Bwd PSH Flags', 'Fwd URG Flags', 'Bwd URG Flags', 'Fwd Header Length', 'Bwd Header Length', 'Fwd Packets/s', 'Bwd Packets/s',
  'Packet Length Min', 'Packet Length Max', 'Packet Length Mean', 'Packet Length Std', 'Packet Length Variance', 'FIN Flag Count', 'SYN Flag Count', 'RST Flag Count',
  'PSH Flag Count', 'ACK Flag Count', 'URG Flag Count', 'CWR Flag Count', 'ECE Flag Count', 'Down/Up Ratio', 'Average Packet Size', 'Fwd Segment Size Avg',
  'Bwd Segment Size Avg', 'Fwd Bytes/Bulk Avg', 'Fwd Packet/Bulk Avg', 'Fwd Bulk Rate Avg', 'Bwd Bytes/Bulk Avg', 'Bwd Packet/Bulk Avg', 'Bwd Bulk Rate Avg',
  'Subflow Fwd Packets', 'Subflow Fwd Bytes', 'Subflow Bwd Packets', 'Subflow Bwd Bytes', 'FWD Init Win Bytes', 'Bwd Init Win Bytes', 'Fwd Act Data Pkts',
  'Fwd Seg Size Min', 'Active Mean', 'Active Std', 'Active Max', 'Active Min', 'Idle Mean', 'Idle Std', 'Idle Max', 'Idle Min', 'Label',
];
const file = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
const FILES = [file, ...['rawip-tcp.pcap', 'tls13-ech-grease-cloudflare.pcap', 'pcapng-2if-comments-keylog.pcapng'].map((f) => join(PCAPS, f))];

interface Stream {
  client: string;
  server: string;
  frames: number;
  frameBytes: number;
  fwdPayload: number;
  bwdPayload: number;
  first: bigint;
  last: bigint;
}

/** Per TCP stream by tshark: the client (sender of the SYN without ACK), frame bytes, payload each way, times. */
function tsharkTcp(): Map<string, Stream> {
  const out = FILES.map((f) => tshark(['-r', f, '-Y', 'tcp', '-T', 'fields', '-E', 'separator=\t', ...['tcp.stream', 'frame.len', 'tcp.len', 'frame.time_epoch', 'ip.src', 'ipv6.src', 'tcp.srcport', 'ip.dst', 'ipv6.dst', 'tcp.dstport', 'tcp.flags.syn', 'tcp.flags.ack'].flatMap((e) => ['-e', e])]).replace(/^(\d+)\t/gm, `${f}#$1\t`)).join('');
  const byStream = new Map<string, Array<{ len: number; payload: number; t: bigint; src: string; dst: string; syn: boolean }>>();
  for (const l of out.split('\n').filter(Boolean)) {
    const [s, len, payload, t, s4, s6, sp, d4, d6, dp, syn, ack] = l.split('\t');
    const list = byStream.get(s) ?? [];
    list.push({ len: Number(len), payload: Number(payload), t: epochNs(t), src: `${s4 || s6}|${sp}`, dst: `${d4 || d6}|${dp}`, syn: (syn === '1' || syn === 'True') && !(ack === '1' || ack === 'True') });
    byStream.set(s, list);
  }
  const streams = new Map<string, Stream>();
  for (const list of byStream.values()) {
    const opener = list.find((p) => p.syn) ?? list[0];
    const st: Stream = { client: opener.src, server: opener.dst, frames: list.length, frameBytes: 0, fwdPayload: 0, bwdPayload: 0, first: list[0].t, last: list[0].t };
    for (const p of list) {
      st.frameBytes += p.len;
      if (p.src === st.client) st.fwdPayload += p.payload;
      else st.bwdPayload += p.payload;
      if (p.t < st.first) st.first = p.t;
      if (p.t > st.last) st.last = p.t;
    }
    streams.set(`${st.client}|${st.server}`, st);
  }
  return streams;
}

function records(set: string, extra: string[] = [], files = FILES): Array<Record<string, string>> {
  const r = cli(['flows', ...files, '-q', '--columns', set, ...extra]);
  assert.equal(r.status, 0, r.stderr);
  const [head, ...rows] = parseCsv(r.stdout);
  return rows.map((row) => Object.fromEntries(head.map((h, i) => [h, row[i]])));
}

describe('flows --columns nfstream | cicflowmeter', () => {
  const streams = tsharkTcp();

  it('nfstream: its NFlow names in its order, frame bytes and ms times as tshark counts them', () => {
    const head = parseCsv(cli(['flows', file, '-q', '--columns', 'nfstream']).stdout)[0];
    const known = head.filter((h) => NFSTREAM_NAMES.includes(h));
    assert.deepEqual(head, known, 'every column is one of nfstream\'s');
    assert.deepEqual(known, NFSTREAM_NAMES.filter((n) => head.includes(n)), 'in nfstream\'s order');
    assert.ok(head.length >= 70);
    let checked = 0;
    for (const r of records('nfstream')) {
      if (r.protocol !== '6') continue;
      const st = streams.get(`${r.src_ip}|${r.src_port}|${r.dst_ip}|${r.dst_port}`);
      if (st === undefined || Number(r.bidirectional_packets) !== st.frames) continue;
      checked++;
      // accounting_mode=0: frame lengths, as nfstream counts by default.
      assert.equal(Number(r.bidirectional_bytes), st.frameBytes, `${r.src_ip}:${r.src_port} bytes`);
      assert.ok(Math.abs(Number(r.bidirectional_first_seen_ms) - Number(st.first) / 1e6) < 1e-3, 'first seen in ms');
      assert.ok(Math.abs(Number(r.bidirectional_duration_ms) - Number(st.last - st.first) / 1e6) < 1e-6, 'duration in ms');
      assert.equal(Number(r.bidirectional_syn_packets), Number(r.src2dst_syn_packets) + Number(r.dst2src_syn_packets));
      const dirs = JSON.parse(r.splt_direction) as number[];
      assert.ok(dirs.every((d) => d === 0 || d === 1) && dirs[0] === 0);
    }
    assert.ok(checked >= 3, `${checked} TCP flows checked`);
  });

  it('cicflowmeter: its CSV header names in its order, payload bytes and µs times as tshark counts them', () => {
    const head = parseCsv(cli(['flows', file, '-q', '--columns', 'cicflowmeter']).stdout)[0];
    assert.deepEqual(head, CIC_NAMES.filter((n) => head.includes(n)), 'CICFlowMeter\'s names, in its order');
    assert.equal(head.length, new Set(head).size);
    assert.ok(head.length >= 60);
    let checked = 0;
    for (const r of records('cicflowmeter')) {
      if (r.Protocol !== '6') continue;
      const st = streams.get(`${r['Src IP']}|${r['Src Port']}|${r['Dst IP']}|${r['Dst Port']}`);
      if (st === undefined || Number(r['Total Fwd Packet']) + Number(r['Total Bwd packets']) !== st.frames) continue;
      checked++;
      // CICFlowMeter counts TCP payload.
      assert.equal(Number(r['Total Length of Fwd Packet']), st.fwdPayload);
      assert.equal(Number(r['Total Length of Bwd Packet']), st.bwdPayload);
      assert.ok(Math.abs(Number(r['Flow Duration']) - Number(st.last - st.first) / 1e3) < 1e-3, 'duration in µs');
      assert.equal(r['Flow ID'], `${r['Src IP']}-${r['Dst IP']}-${r['Src Port']}-${r['Dst Port']}-6`);
      const fwd = Number(r['Total Fwd Packet']);
      const down = r['Down/Up Ratio'];
      assert.ok(Math.abs(Number(down) - Number(r['Total Bwd packets']) / fwd) < 1e-12, 'a fraction, not an integer division');
      const d = Number(r['Flow Duration']);
      if (d > 0) assert.ok(Math.abs(Number(r['Flow Packets/s']) - st.frames / (d / 1e6)) < 1e-6 * st.frames / (d / 1e6));
      assert.match(r.Timestamp, /^(\d{4}|[+-]\d{6})-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    }
    assert.ok(checked >= 3, `${checked} TCP flows checked`);
    // A flow of one packet has no duration: its rates are null, not Infinity or NaN.
    for (const r of records('cicflowmeter')) if (r['Flow Duration'] === '0') assert.equal(r['Flow Bytes/s'], '');
  });

  it('--length overrides the set\'s accounting; a set that needs a left-out group is an error naming the column', () => {
    const ip = records('nfstream', ['--length', 'ip'], [file]);
    const frame = records('nfstream', [], [file]);
    const sum = (rs: Array<Record<string, string>>) => rs.reduce((a, r) => a + Number(r.bidirectional_bytes), 0);
    assert.ok(sum(frame) > sum(ip), 'frame lengths are larger than IP lengths');
    const r = cli(['flows', file, '-q', '--columns', 'nfstream', '--features', 'tls']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--columns nfstream: "\w+" needs the column \w+/);
  });

  it('docs/column-sets.md is generated from the sets', () => {
    assert.equal(readFileSync(join(ROOT, 'docs/column-sets.md'), 'utf8'), cli(['schema', '--column-sets']).stdout);
    assert.deepEqual(Object.keys(COLUMN_SETS).sort(), ['cicflowmeter', 'nfstream']);
  });
});
