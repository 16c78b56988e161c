import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { PCAPS } from '../helpers/tshark.js';
import { parseCsv } from '../helpers/csv.js';

/** flows --columns: tshark's -T fields -e habit; the chosen columns, in the chosen order, with the values of the full record. */
const file = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
const COLS = ['server_port', 'tls_sni', 'client_addr', 'packets', 'dns_queries'];

describe('flows --columns', () => {
  const full = parseCsv(cli(['flows', file, '-q']).stdout);
  const at = COLS.map((c) => full[0].indexOf(c));
  const expected = full.slice(1).map((r) => at.map((i) => r[i]));

  for (const threads of ['1', '2']) {
    it(`CSV with --threads ${threads}: the header and each row are the full record's cells`, () => {
      const r = cli(['flows', file, '-q', '--columns', COLS.join(','), '--threads', threads]);
      assert.equal(r.status, 0, r.stderr);
      const [head, ...rows] = parseCsv(r.stdout);
      assert.deepEqual(head, COLS);
      const sort = (x: string[][]) => x.map((row) => row.join('\u0001')).sort();
      assert.deepEqual(sort(rows), sort(expected));
      assert.ok(rows.length > 10);
    });
  }

  it('JSON Lines holds only the chosen keys, in order', () => {
    const r = cli(['flows', file, '-q', '--columns', 'client_addr,packets', '--format', 'jsonl']);
    const first = JSON.parse(r.stdout.split('\n')[0]);
    assert.deepEqual(Object.keys(first), ['client_addr', 'packets']);
  });

  it('a name that is not a column is an error naming it and the near ones, before reading', () => {
    const r = cli(['flows', file, '-q', '--columns', 'client_addr,server_prot']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no column "server_prot" \(did you mean server_port/);
    assert.equal(r.stdout, '');
  });
});
