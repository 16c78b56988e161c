import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../docs/examples/ttl-plugin.js';
import { flowPlugins } from '../../src/features/plugins.js';
import { pluginEntries, pluginGroups, pluginModules } from '../../src/features/registry.js';
import { CORE_COLUMNS } from '../../src/flow/record.js';
import type { CellValue, ColumnDef } from '../../src/flow/schema.js';
import { extractFlows, flowColumns } from '../../src/meter/meter.js';
import { extractFlowsSharded } from '../../src/meter/sharded.js';
import { openRecordWriter } from '../../src/output/writers.js';
import { readRecordsCsv } from '../../src/dataset/records.js';
import { PCAPS, tshark } from '../helpers/tshark.js';
import { tempDir } from '../helpers/temp.js';

/**
 * The contract every registered feature plugin keeps (the example plugin of docs/architecture.md among them): its
 * columns are described and typed; each cell it writes has its column's type; it gives the same records on one
 * thread and on two (its own module registers it in the shard workers); and its columns reach CSV and Parquet.
 */
const CAPTURES = ['sll-mixed-tcp-dns-arp.pcap', 'tls-quic-ipv6-cloudflare.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap', 'ipv4-fragments-5.pcap'].map((f) => join(PCAPS, f));
const ALL = pluginGroups('all');
const dir = tempDir('cipherscope-plugins-');

function typed(c: ColumnDef, v: CellValue): boolean {
  if (v === null) return true;
  switch (c.type) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v);
    case 'int64':
    case 'timestamp':
      return typeof v === 'bigint';
    case 'float':
      return typeof v === 'number';
    case 'string':
      return typeof v === 'string';
    case 'bool':
      return typeof v === 'boolean';
    case 'int[]':
      return (Array.isArray(v) || ArrayBuffer.isView(v)) && Array.from(v as ArrayLike<number>).every((x) => Number.isInteger(x));
    case 'float[]':
      return (Array.isArray(v) || ArrayBuffer.isView(v)) && Array.from(v as ArrayLike<number>).every((x) => typeof x === 'number');
  }
}

/** Records keyed by what identifies a flow in both runs (flow ids are numbered per shard). */
function byFlow(names: string[], rows: CellValue[][]): Map<string, CellValue[]> {
  const key = ['protocol', 'client_addr', 'client_port', 'server_addr', 'server_port', 'first_seen_ns', 'segment'].map((n) => names.indexOf(n));
  const id = names.indexOf('flow_id');
  const out = new Map<string, CellValue[]>();
  for (const r of rows) out.set(key.map((k) => String(r[k])).join('|'), r.map((v, i) => (i === id ? null : ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<number>) : v)));
  return out;
}

describe('feature plugin contract', () => {
  it('the example plugin is registered beside the built-ins, with the module that registers it', () => {
    assert.ok(ALL.includes('ttl'));
    assert.deepEqual(pluginModules({ groups: ['tls', 'ttl'] }).length, 1);
    assert.throws(() => flowPlugins({ groups: ['nope'] }), /unknown feature group "nope"; choose from .*ttl/);
  });

  for (const entry of pluginEntries()) {
    describe(`plugin ${entry.name}`, () => {
      const plugin = entry.create({});
      it('describes and types every column, none named like another plugin\'s or a core column', () => {
        const others = new Set([...CORE_COLUMNS, ...pluginEntries().filter((e) => e !== entry).flatMap((e) => e.create({}).columns)].map((c) => c.name));
        assert.ok(plugin.columns.length > 0);
        for (const c of plugin.columns) {
          assert.match(c.name, /^[a-z][a-z0-9_]*$/, c.name);
          assert.ok(c.description.length > 10, `${c.name} has a description`);
          assert.ok(!others.has(c.name), `${c.name} is only this plugin's`);
        }
      });

      it('writes cells of its columns\' types, and the same records on one thread and on two', async () => {
        const options = { groups: entry.always ? [] : [entry.name] };
        const columns = flowColumns(flowPlugins(options));
        const names = columns.map((c) => c.name);
        const own = plugin.columns.map((c) => names.indexOf(c.name));
        for (const capture of CAPTURES) {
          const one: CellValue[][] = [];
          await extractFlows(capture, (r) => one.push(r.slice()), { plugins: flowPlugins(options) });
          for (const r of one) own.forEach((at) => assert.ok(typed(columns[at], r[at]), `${capture}: ${names[at]} = ${String(r[at])} is not ${columns[at].type}`));
          const two: CellValue[][] = [];
          await extractFlowsSharded(capture, { onRow: (r) => two.push(r) }, { threads: 2, plugins: options });
          assert.deepEqual(byFlow(names, two), byFlow(names, one), capture);
        }
      });
    });
  }

  it('the example plugin equals tshark: smallest and largest TTL / hop limit each way of every TCP conversation', async () => {
    const plugins = () => flowPlugins({ groups: ['ttl'] });
    const names = flowColumns(plugins()).map((c) => c.name);
    const rows: Record<string, CellValue>[] = [];
    const ttl = new Map<string, number[]>();
    for (const capture of ['rawip-tcp.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap', 'tls13-ech-grease-cloudflare.pcap', 'tls13-ipv4-ipv6-drafts.pcap', 'sll-mixed-tcp-dns-arp.pcap'].map((f) => join(PCAPS, f))) {
      await extractFlows(capture, (r) => rows.push(Object.fromEntries(names.map((n, i) => [n, r[i]]))), { plugins: plugins(), flow: { idleTimeoutSec: 1e9, activeTimeoutSec: 1e9, tcpCloseGraceSec: 1e9 } });
      const fields = ['ip.src', 'ipv6.src', 'tcp.srcport', 'ip.dst', 'ipv6.dst', 'tcp.dstport', 'ip.ttl', 'ipv6.hlim'].flatMap((f) => ['-e', f]);
      for (const line of tshark(['-r', capture, '-Y', 'tcp', '-T', 'fields', '-E', 'occurrence=f', ...fields]).trim().split('\n')) {
        const [s4, s6, sp, d4, d6, dp, t4, t6] = line.split('\t');
        const k = `${capture}|${s4 || s6}|${sp}|${d4 || d6}|${dp}`;
        ttl.set(k, [...(ttl.get(k) ?? []), Number(t4 || t6)]);
      }
    }
    let checked = 0;
    for (const r of rows.filter((x) => x.protocol === 6)) {
      const fwd = ttl.get(`${r.capture}|${r.client_addr}|${r.client_port}|${r.server_addr}|${r.server_port}`) ?? [];
      const bwd = ttl.get(`${r.capture}|${r.server_addr}|${r.server_port}|${r.client_addr}|${r.client_port}`) ?? [];
      const where = `${r.capture}: ${r.client_addr}:${r.client_port} -> ${r.server_addr}:${r.server_port}`;
      assert.deepEqual([r.client_ttl_min, r.client_ttl_max], fwd.length ? [Math.min(...fwd), Math.max(...fwd)] : [null, null], where);
      assert.deepEqual([r.server_ttl_min, r.server_ttl_max], bwd.length ? [Math.min(...bwd), Math.max(...bwd)] : [null, null], where);
      checked++;
    }
    assert.ok(checked >= 30, `${checked} conversations`);
  });

  it("the example plugin's columns reach CSV and Parquet with their values", async () => {
    const capture = join(PCAPS, 'tls-quic-ipv6-cloudflare.pcap');
    const plugins = () => flowPlugins({ groups: ['ttl'] });
    const columns = flowColumns(plugins());
    const rows: CellValue[][] = [];
    await extractFlows(capture, (r) => rows.push(r.slice()), { plugins: plugins() });
    const at = columns.findIndex((c) => c.name === 'client_ttl_max');
    for (const format of ['csv', 'parquet']) {
      const path = join(dir, `ttl.${format}`);
      const w = openRecordWriter(format, path, columns);
      for (const r of rows) w.write(r);
      await w.close();
      let got: unknown[];
      if (format === 'csv') got = readRecordsCsv(path, columns).rows.map((r) => r[at]);
      else {
        const arrow = await import('apache-arrow');
        const { readParquet } = await import('parquet-wasm/node');
        const table = arrow.tableFromIPC(readParquet(readFileSync(path)).intoIPCStream());
        got = Array.from(table.getChild('client_ttl_max')! as Iterable<unknown>, (v) => (v === null ? null : Number(v)));
      }
      assert.deepEqual(got, rows.map((r) => r[at]), format);
      assert.ok(rows.some((r) => typeof r[at] === 'number' && (r[at] as number) > 0));
    }
  });
});
