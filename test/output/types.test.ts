import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rmSync } from 'node:fs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { ColumnDef } from '../../src/flow/schema.js';
import { ROOT, cli } from '../helpers/cli.js';
import { PYTHON } from '../helpers/sklearn.js';
import { PCAPS } from '../helpers/tshark.js';

/**
 * Every format loads with the schema's types in the tools people load them with: DuckDB (Parquet by its own
 * types; CSV and JSON Lines with the types the schema names) and pandas (CSV and JSON Lines through
 * python/cipherscope_pandas.py, Debian's python3-pandas without pyarrow). The three formats hold the same values,
 * absent values are nulls (no -1, 0 or "" stand-ins), and timestamps keep every nanosecond.
 */
const CAPTURES = ['tls-quic-ipv6-cloudflare.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap', 'noise-arp-icmp.pcap', 'vlan-qinq-pppoe-tls.pcap', 'quic-curl-http3-google.pcap', 'ipv4-fragments-udp.pcap', 'tls13-rfc8446.pcap']
  .map((f) => join(PCAPS, f));
const DUCK: Record<ColumnDef['type'], string> = {
  int: 'BIGINT',
  int64: 'BIGINT',
  timestamp: 'TIMESTAMP WITH TIME ZONE',
  float: 'DOUBLE',
  bool: 'BOOLEAN',
  string: 'VARCHAR',
  'int[]': 'BIGINT[]',
  'float[]': 'DOUBLE[]',
};
const PANDAS: Record<string, string> = { int: 'Int64', int64: 'Int64', float: 'float64', bool: 'boolean', string: 'string', timestamp: 'datetime64[ns, UTC]' };

const dir = mkdtempSync(join(tmpdir(), 'cipherscope-types-'));
const out = (ext: string) => join(dir, `flows.${ext}`);
let schema: ColumnDef[];
let db: DuckDBConnection;

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await db.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

describe('types in DuckDB and pandas', () => {
  before(async () => {
    const existing = CAPTURES.filter((f) => {
      try {
        execFileSync('test', ['-f', f]);
        return true;
      } catch {
        return false;
      }
    });
    for (const [format, ext] of [['csv', 'csv'], ['jsonl', 'jsonl'], ['parquet', 'parquet']]) {
      const r = cli(['flows', ...existing, '--format', format, '-o', out(ext)]);
      assert.equal(r.status, 0, r.stderr);
    }
    schema = JSON.parse(cli(['schema', '--format', 'json']).stdout) as ColumnDef[];
    writeFileSync(join(dir, 'schema.json'), JSON.stringify(schema));
    db = await (await DuckDBInstance.create(':memory:')).connect();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('Parquet columns have the schema types in DuckDB (integer lists, UTC timestamps, booleans)', async () => {
    const described = await rows(`describe select * from read_parquet('${out('parquet')}')`);
    const types = new Map(schema.map((c) => [c.name, c.type]));
    assert.ok(described.length > 100);
    for (const d of described) {
      const t = types.get(d.column_name as string);
      assert.ok(t !== undefined, `${d.column_name} is not in the schema`);
      assert.equal(d.column_type, DUCK[t], `${d.column_name}: ${t}`);
    }
  });

  it('CSV, JSON Lines and Parquet hold the same values, column by column', async () => {
    const names = (await rows(`describe select * from read_parquet('${out('parquet')}')`)).map((d) => d.column_name as string);
    const type = new Map(schema.map((c) => [c.name, c.type]));
    // CSV lists are "[a,b]" text, cast to the list type; timestamps are compared through their int64 twins below.
    const cols = names.filter((n) => type.get(n) !== 'timestamp');
    const typed = (t: string) => `{${names.map((n) => `'${n}': '${type.get(n)!.endsWith('[]') ? 'VARCHAR' : DUCK[type.get(n)!].replace(' WITH TIME ZONE', 'TZ')}'`).join(', ')}}`;
    const pick = (src: string) => `select ${cols.map((n) => (type.get(n)!.endsWith('[]') ? `${n}::${DUCK[type.get(n)!]} as ${n}` : n)).join(', ')} from ${src}`;
    await db.run(`create table p as select ${cols.join(', ')} from read_parquet('${out('parquet')}')`);
    await db.run(`create table c as ${pick(`read_csv('${out('csv')}', header = true, columns = ${typed('csv')}, auto_detect = false, quote = '"', escape = '"')`)}`);
    await db.run(`create table j as ${pick(`read_json('${out('jsonl')}', format = 'newline_delimited', columns = ${typed('json')})`)}`);
    const [{ n }] = await rows('select count(*)::INT as n from p');
    assert.ok(Number(n) >= 10, `${n} flows`);
    for (const t of ['c', 'j']) {
      for (const [a, b] of [['p', t], [t, 'p']]) {
        const diff = await rows(`select flow_id, capture from (select * from ${a} except all select * from ${b})`);
        assert.deepEqual(diff, [], `${a} has rows ${b} lacks`);
      }
    }
    for (const f of [`read_parquet('${out('parquet')}')`, `read_csv('${out('csv')}', header = true, columns = ${typed('csv')}, auto_detect = false)`]) {
      const bad = await rows(`select flow_id from ${f} where epoch_us(first_seen) != first_seen_ns // 1000 or epoch_us(last_seen) != last_seen_ns // 1000`);
      assert.deepEqual(bad, [], f);
    }
  });

  it('absent values are nulls: no -1, 0 or empty-string stand-ins', async () => {
    const src = `read_parquet('${out('parquet')}')`;
    const checks: Array<[string, string]> = [
      ['client_tcp_mss_bytes = -1 or server_tcp_mss_bytes = -1 or client_tcp_window_scale = -1 or client_tcp_init_window_bytes = -1', 'TCP options -1'],
      ['protocol != 6 and (client_tcp_mss_bytes is not null or fwd_syn_count is not null)', 'TCP columns of a non-TCP flow'],
      ['dns_rcode = -1', 'dns_rcode -1'],
      ['tls_version = 0 or tls_client_version = 0 or tls_cipher = 0 or quic_version = 0 or tls_client_key_length_bytes = -1', 'TLS/QUIC 0 or -1'],
      ['protocol not in (6, 17, 132) and (client_port is not null or server_port is not null)', 'ports of a portless protocol'],
      ['fwd_byte_dist_bytes = 0 and (fwd_byte_dist is not null or fwd_byte_entropy_bits is not null)', 'byte distribution without payload'],
      ['fwd_packets = 0 and (fwd_pkt_len_min_bytes is not null or fwd_pkt_len_mean_bytes is not null)', 'statistics of no packets'],
      ['fwd_packets = 1 and fwd_pkt_len_sd_bytes is not null', 'SD of one packet'],
      ['fwd_packets < 3 and fwd_iat_sd_ns is not null', 'SD of one inter-arrival time'],
    ];
    for (const [where, what] of checks) assert.deepEqual(await rows(`select flow_id from ${src} where ${where}`), [], what);
    // The captures do hold the values these columns describe, so the nulls are not everywhere.
    const [seen] = await rows(`select count(tls_version)::INT t, count(quic_version)::INT q, count(dns_rcode)::INT d, count(client_tcp_mss_bytes)::INT m, count(vlan)::INT v, count(*) filter (where client_port is null)::INT icmp from ${src}`);
    for (const [k, v] of Object.entries(seen)) assert.ok(Number(v) > 0, `no flow has ${k}`);
    const strings = schema.filter((c) => c.type === 'string').map((c) => c.name);
    const present = new Set((await rows(`describe select * from ${src}`)).map((d) => d.column_name as string));
    const empty = strings.filter((s) => present.has(s)).map((s) => `count(*) filter (where ${s} = '')::INT as ${s}`);
    const [e] = await rows(`select ${empty.join(', ')} from ${src}`);
    assert.deepEqual(Object.entries(e).filter(([, v]) => Number(v) > 0), [], 'empty strings');
  });

  it('pandas reads CSV and JSON Lines with the schema types, the same values in both', () => {
    const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(join(ROOT, 'python'))})
import cipherscope_pandas as cs
import pandas as pd
schema = json.load(open(${JSON.stringify(join(dir, 'schema.json'))}))
types = {c['name']: c['type'] for c in schema}
out = {}
for fmt in ('csv', 'jsonl'):
    df = cs.read(${JSON.stringify(dir)} + '/flows.' + fmt, schema)
    out[fmt] = {'dtypes': {k: str(v) for k, v in df.dtypes.items()}, 'rows': len(df)}
    bad = []
    for n in df.columns:
        t = types.get(n, '')
        if t.endswith('[]'):
            for v in df[n]:
                if v is not None and not (isinstance(v, list) and all(isinstance(x, int) if t == 'int[]' else isinstance(x, (int, float)) for x in v)):
                    bad.append(n); break
    out[fmt]['bad_lists'] = bad
    stamp = df['first_seen'].map(lambda t: t.value) if 'first_seen' in df else None
    out[fmt]['ns_equal'] = bool((stamp == df['first_seen_ns'].astype('int64')).all())
    out[fmt + '_df'] = df
c, j = out.pop('csv_df'), out.pop('jsonl_df')
diff = []
for n in c.columns:
    a, b = c[n], j[n]
    if types.get(n, '').endswith('[]'):
        same = all((x is None and y is None) or x == y for x, y in zip(a, b))
    else:
        same = a.astype(object).where(a.notna(), None).tolist() == b.astype(object).where(b.notna(), None).tolist()
    if not same: diff.append(n)
out['differ'] = diff
print(json.dumps(out))
`;
    const r = JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 26 })) as Record<string, { dtypes: Record<string, string>; rows: number; bad_lists: string[]; ns_equal: boolean }> & { differ: string[] };
    const types = new Map(schema.map((c) => [c.name, c.type]));
    for (const fmt of ['csv', 'jsonl']) {
      const f = r[fmt];
      assert.ok(f.rows >= 10, `${fmt}: ${f.rows} rows`);
      for (const [name, dtype] of Object.entries(f.dtypes)) {
        const t = types.get(name)!;
        if (t.endsWith('[]')) assert.equal(dtype, 'object', `${fmt} ${name}`);
        else assert.equal(dtype, PANDAS[t].replace('string', fmt === 'csv' ? 'string' : 'string'), `${fmt} ${name}: ${t}`);
      }
      assert.deepEqual(f.bad_lists, [], `${fmt}: lists of the wrong element type`);
      assert.ok(f.ns_equal, `${fmt}: first_seen lost nanoseconds`);
    }
    assert.deepEqual(r.differ, [], 'columns CSV and JSON Lines read differently');
  });
});
