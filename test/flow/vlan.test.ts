import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { flowsOf } from '../helpers/flows.js';
import { haveTshark, sharedPcaps, tshark } from '../helpers/tshark.js';

/** Each IP frame's endpoints (outer header) and VLAN ids, outer to inner, in frame order, as tshark dissects them. */
function framesOf(file: string): Array<{ a: string; b: string; vlan: number[] }> {
  const out = tshark(['-r', file, '-Y', 'ip or ipv6', '-T', 'fields', '-E', 'occurrence=f', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.dstport', '-e', 'udp.dstport', '-e', 'vlan.id']);
  // occurrence=f keeps the first VLAN tag only; the ids of every tag come from a second pass.
  const tags = tshark(['-r', file, '-Y', 'ip or ipv6', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'vlan.id']).split('\n');
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l, i) => {
      const [s4, s6, st, su, d4, d6, dt, du] = l.split('\t');
      return { a: `${s4 || s6}|${st || su || ''}`, b: `${d4 || d6}|${dt || du || ''}`, vlan: tags[i] === '' ? [] : tags[i].split(',').map(Number) };
    });
}

describe('vlan column against tshark vlan.id', { skip: haveTshark() ? false : 'needs tshark' }, () => {
  const files = sharedPcaps().filter((f) => /vlan|qinq|8021q|tls13-rfc8446|dns-udp-edns/.test(basename(f)));

  it('every flow: the ids of its first frame packed outer * 4096 + inner, 0 for a priority tag, null untagged', async () => {
    let tagged = 0;
    let priority = 0;
    let untagged = 0;
    for (const file of files) {
      const first = new Map<string, number[]>();
      for (const f of framesOf(file)) {
        const k = [f.a, f.b].sort().join(' ');
        if (!first.has(k)) first.set(k, f.vlan);
      }
      const { rows } = await flowsOf(file);
      for (const r of rows) {
        const k = [`${r.client_addr}|${r.client_port ?? ''}`, `${r.server_addr}|${r.server_port ?? ''}`].sort().join(' ');
        const ids = first.get(k);
        if (ids === undefined) continue; // a flow of fragments tshark shows only reassembled, under other ports
        const want = ids.length === 0 ? null : ids.reduce((v, id) => v * 4096 + id, 0);
        assert.equal(r.vlan, want, `${basename(file)} flow ${r.flow_id} (${k}): tshark vlan.id ${ids.join(',') || 'none'}`);
        if (want === null) untagged++;
        else if (want === 0) priority++;
        else tagged++;
      }
    }
    // The shared captures hold all three kinds.
    assert.ok(tagged > 0 && priority > 0 && untagged > 0, `tagged ${tagged}, priority-tagged ${priority}, untagged ${untagged}`);
  });

  it('--no-vlan-key: null everywhere', async () => {
    const { rows } = await flowsOf(files.find((f) => basename(f).startsWith('vlan-qinq-pppoe'))!, { flow: { vlanInKey: false } });
    assert.ok(rows.length > 0 && rows.every((r) => r.vlan === null));
  });
});
