import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AppMatcher, loadAppRules } from '../../src/features/apps.js';
import { type ExtractSummary, extractFlows, flowColumns } from '../../src/meter/meter.js';
import { ALL_GROUPS, flowPlugins } from '../../src/features/plugins.js';
import { extractFlowsSharded } from '../../src/meter/sharded.js';
import type { CellValue } from '../../src/flow/schema.js';
import { type SynthPacket, synthPcap } from '../../src/pcap/synth.js';
import { cli } from '../helpers/cli.js';
import { PHONE_APPS, pcapdroidPcapng, phonePackets, trailerPcap } from '../helpers/pcapdroid.js';
import { SHARED, epochNs, haveTshark, sharedPcaps, tshark } from '../helpers/tshark.js';
import { tempDir } from '../helpers/temp.js';

const RULES = loadAppRules();
const COLUMNS = flowColumns(flowPlugins({ groups: ALL_GROUPS }), true).map((c) => c.name);
const FLOW_ID = COLUMNS.indexOf('flow_id');

/** A record as comparable text without its flow id (ids are numbered per shard). */
function key(row: readonly CellValue[]): string {
  return JSON.stringify(row.map((v, i) => (i === FLOW_ID ? null : ArrayBuffer.isView(v) ? Array.from(v as Int32Array) : typeof v === 'bigint' ? v.toString() : v)));
}

async function serial(file: string): Promise<{ rows: CellValue[][]; summary: ExtractSummary }> {
  const rows: CellValue[][] = [];
  const summary = await extractFlows(file, (r) => rows.push(r.slice()), { plugins: flowPlugins({ groups: ALL_GROUPS }), apps: new AppMatcher(RULES) });
  return { rows, summary };
}

async function sharded(file: string, threads: number): Promise<{ rows: CellValue[][]; summary: ExtractSummary }> {
  const rows: CellValue[][] = [];
  const summary = await extractFlowsSharded(file, { onRow: (r) => rows.push(r) }, { threads, plugins: { groups: ALL_GROUPS }, apps: RULES });
  return { rows, summary };
}

const whatsapp = join(SHARED, 'datasets/whatsapp-web-actions');
const captures = [...sharedPcaps(), ...readdirSync(whatsapp).filter((f) => f.endsWith('.pcapng')).map((f) => join(whatsapp, f))];

describe('flows sharded across worker threads', () => {
  it('gives the same records and counts as one thread, on every shared capture and the WhatsApp captures', async () => {
    let records = 0;
    for (const file of captures) {
      const a = await serial(file);
      const b = await sharded(file, 3);
      assert.deepEqual(b.rows.map(key).sort(), a.rows.map(key).sort(), file);
      for (const k of ['packets', 'bytesRead', 'metered', 'records', 'flows', 'protocols', 'dropped', 'fragments', 'errors', 'warnings'] as const) {
        assert.deepEqual(b.summary[k], a.summary[k], `${file}: ${k}`);
      }
      // Flow ids stay unique across shards; segments of one connection share theirs.
      const ids = new Set(b.rows.filter((r) => r[FLOW_ID + 1] === 0 && r[FLOW_ID + 2] === 'final').map((r) => r[FLOW_ID]));
      assert.equal(ids.size, b.rows.filter((r) => r[FLOW_ID + 1] === 0 && r[FLOW_ID + 2] === 'final').length, file);
      records += a.rows.length;
    }
    assert.ok(records > 250, `${records} records compared`);
  });

  it('names PCAPdroid apps alike whether the main thread or a worker meters the flow', async () => {
    const dir = tempDir('cipherscope-sharded-pcapdroid-');
    const files = [join(dir, 'mapped.pcapng'), join(dir, 'trailer.pcap')];
    writeFileSync(files[0], pcapdroidPcapng(phonePackets()));
    writeFileSync(files[1], trailerPcap(phonePackets(), 2));
    const app = COLUMNS.indexOf('device_app');
    try {
      for (const file of files) {
        const a = await serial(file);
        // Every flow on the main thread (which meters with the router's decode), then every flow on the worker.
        for (const mainShare of [1e6, 0]) {
          const rows: CellValue[][] = [];
          await extractFlowsSharded(file, { onRow: (r) => rows.push(r) }, { threads: 2, mainShare, plugins: { groups: ALL_GROUPS }, apps: RULES });
          assert.deepEqual(rows.map(key).sort(), a.rows.map(key).sort(), `${file}, main share ${mainShare}`);
        }
        if (file === files[0]) assert.deepEqual(new Set(a.rows.map((r) => r[app])), new Set(PHONE_APPS.map((p) => p.packageName)), file);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names a flow from a DNS answer that another shard metered", async () => {
    const file = join(SHARED, 'pcaps/sll-mixed-tcp-dns-arp.pcap');
    const host = COLUMNS.indexOf('dns_host');
    const queries = COLUMNS.indexOf('dns_queries');
    const server = COLUMNS.indexOf('server_addr');
    let crossed = 0;
    for (const [n, mainShare] of [2, 3, 4, 5].flatMap((k) => [0.25, 0.5, 1, 2].map((m) => [k, m]))) {
      const rows: CellValue[][] = [];
      await extractFlowsSharded(file, { onRow: (r) => rows.push(r) }, { threads: n, mainShare, plugins: { groups: ALL_GROUPS }, apps: RULES });
      const web = rows.find((r) => r[server] === '212.199.202.69' && r[COLUMNS.indexOf('server_port')] === 80);
      const dns = rows.find((r) => typeof r[queries] === 'string' && (r[queries] as string).includes('www.ynet.co.il'));
      assert.ok(web && dns);
      assert.equal(web[host], 'www.ynet.co.il', `${n} shards, main share ${mainShare}`);
      // Shard s numbers its flows s + 1, s + 1 + n, ...
      if (((web[FLOW_ID] as number) - 1) % n !== ((dns[FLOW_ID] as number) - 1) % n) crossed++;
    }
    assert.ok(crossed > 0, 'the DNS flow and the web flow fell in different shards for some shard count and main share');
  });

  it('applies the packet filter to the DNS answers it shares: with the resolvers excluded, no shard names a flow from them', async () => {
    const file = join(SHARED, 'pcaps/sll-mixed-tcp-dns-arp.pcap');
    const plain = await serial(file);
    assert.ok(plain.rows.some((r) => r[COLUMNS.indexOf('dns_host')] !== null));
    // This capture has two: the LAN's and a local stub on 127.0.0.1.
    const resolvers = [...new Set(plain.rows.filter((r) => r[COLUMNS.indexOf('server_port')] === 53).map((r) => r[COLUMNS.indexOf('server_addr')] as string))];
    assert.equal(resolvers.length, 2);
    const filter = { dropNoise: true, excludeHosts: resolvers, onlyHosts: [] };
    const a: CellValue[][] = [];
    await extractFlows(file, (r) => a.push(r.slice()), { plugins: flowPlugins({ groups: ALL_GROUPS }), apps: new AppMatcher(RULES), filter });
    const b: CellValue[][] = [];
    await extractFlowsSharded(file, { onRow: (r) => b.push(r) }, { threads: 3, plugins: { groups: ALL_GROUPS }, apps: RULES, filter });
    assert.deepEqual(b.map(key).sort(), a.map(key).sort());
    assert.ok(a.every((r) => r[COLUMNS.indexOf('dns_host')] === null), 'no DNS answer got through the filter');
  });

  it('keeps every fragment of a datagram in one shard (address-pair hash), so reassembly matches one thread', async () => {
    let datagrams = 0;
    for (const f of ['ipv4-fragments-5.pcap', 'ipv4-fragments-udp.pcap', 'dns-ipv6-fragmented.pcap', 'vlan-ipv4-fragments.pcap']) {
      const file = join(SHARED, 'pcaps', f);
      const a = await serial(file);
      const b = await sharded(file, 2);
      assert.ok(a.summary.fragments.fragments > 0, f);
      assert.deepEqual(b.summary.fragments, a.summary.fragments, f);
      assert.deepEqual(b.rows.map(key).sort(), a.rows.map(key).sort(), f);
      datagrams += b.summary.fragments.datagrams;
    }
    assert.equal(datagrams, 3);
  });

  it('reads records larger than the read headroom and input that comes in small pieces as one thread does', async () => {
    // 40 flows of UDP and TCP; every 97th frame is 300,000 bytes (past the reader's 256 KiB headroom, so it is joined
    // in a buffer of the reader's own and copied into shared memory on its own).
    const packets: SynthPacket[] = [];
    for (let i = 0; i < 3000; i++) {
      const f = i % 40;
      packets.push({ sec: 1_700_000_000 + Math.floor(i / 10), nsec: (i % 10) * 1e8, src: `10.0.${f}.2`, dst: '192.0.2.9', sport: 40000 + f, dport: f % 2 ? 443 : 53, proto: f % 3 ? 'tcp' : 'udp', payload: (i * 37) % 1400 });
    }
    const bytes = synthPcap(packets);
    const dv = new DataView(bytes.buffer);
    dv.setUint32(16, 1 << 20, true); // snap length
    const parts: Uint8Array[] = [bytes.subarray(0, 24)];
    for (let o = 24, i = 0; o < bytes.length; i++) {
      const len = dv.getUint32(o + 8, true);
      const rec = bytes.subarray(o, o + 16 + len);
      if (i % 97 === 5) {
        const big = new Uint8Array(16 + 300_000);
        big.set(rec, 0);
        new DataView(big.buffer).setUint32(8, 300_000, true);
        new DataView(big.buffer).setUint32(12, 300_000, true);
        parts.push(big);
      } else parts.push(rec);
      o += 16 + len;
    }
    const file = join(tempDir('cs-shard-'), 'big.pcap');
    writeFileSync(file, Buffer.concat(parts));
    const a = await serial(file);
    assert.equal(a.summary.packets, 3000);
    const fromFile = await sharded(file, 2);
    assert.deepEqual(fromFile.rows.map(key).sort(), a.rows.map(key).sort());
    // The same bytes from a stream, in pieces of 1 to 70,000 bytes.
    const all = readFileSync(file);
    const pieces: Buffer[] = [];
    for (let o = 0, k = 1; o < all.length; k = (k * 7919 + 13) % 70000) {
      pieces.push(all.subarray(o, o + k + 1));
      o += k + 1;
    }
    const rows: CellValue[][] = [];
    const summary = await extractFlowsSharded(Readable.from(pieces), { onRow: (r) => rows.push(r) }, { threads: 3, plugins: { groups: ALL_GROUPS }, apps: RULES });
    assert.equal(summary.packets, 3000);
    const unnamed = (r: CellValue[]) => key(['', ...r.slice(1)]);
    assert.deepEqual(rows.map(unnamed).sort(), a.rows.map(unnamed).sort());
  });

  it('through the CLI: --threads 2 writes the same CSV rows (encoded on the workers) as one thread', () => {
    const file = join(SHARED, 'datasets/whatsapp-web-actions/userA-four-groups-mixed.pcapng');
    const one = cli(['flows', '-q', '--no-progress', file, '--apps', '-o', '-']);
    const two = cli(['flows', '-q', '--no-progress', file, '--apps', '--threads', '2', '-o', '-']);
    assert.equal(two.status, 0, two.stderr);
    const body = (s: string) =>
      s
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.slice(l.indexOf(',', l.indexOf(',') + 1)))
        .sort();
    assert.equal(two.stdout.split('\n')[0], one.stdout.split('\n')[0]);
    assert.deepEqual(body(two.stdout), body(one.stdout));
    assert.ok(body(one.stdout).length > 5);
  });
});

describe('time base', { skip: haveTshark() ? false : 'tshark not installed' }, () => {
  // A first packet at time 0 (a pcapng simple packet block), and an interface whose times lie near 1.8e13 s as the
  // file stores them: both put times beyond a double's exact nanoseconds from the first packet's.
  for (const name of ['pcapng-nrb-spb-3if.pcapng', 'pcapng-2if-comments-keylog.pcapng']) {
    it(`keeps nanoseconds exact when times lie years apart: ${name}`, async () => {
      const file = join(SHARED, 'pcaps', name);
      const { rows } = await serial(file);
      const first = COLUMNS.indexOf('first_seen_ns');
      const times = new Set(tshark(['-r', file, '-T', 'fields', '-e', 'frame.time_epoch']).trim().split('\n').map(epochNs));
      assert.ok(rows.length >= 3);
      for (const r of rows) assert.ok(times.has(r[first] as bigint), `${r[first]} is a packet time tshark shows`);
    });
  }
});
