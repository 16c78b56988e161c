import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { flowPlugins } from '../../src/features/plugins.js';
import { NO_TIMEOUTS, flowsOf } from '../helpers/flows.js';
import { PCAPS, epochNs, haveTshark, tshark } from '../helpers/tshark.js';

/**
 * TCP flag counts per direction and the SYN / SYN+ACK options against tshark's tcp.flags, tcp.options.mss_val,
 * tcp.options.wscale.shift and tcp.window_size_value, stream by stream.
 */
const FILES = ['tcp-retransmissions.pcap', 'ipv6-tcp-smtp.pcap', 'tls12-https-heise-offers13.pcap', 'sll-nsec-tcp-handshake.pcap'];
const FLAGS = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr'];

describe('TCP flag counts and handshake options', { skip: !haveTshark() && 'tshark not installed' }, () => {
  for (const name of FILES) {
    it(name, async () => {
      const file = join(PCAPS, name);
      const { rows } = await flowsOf(file, { plugins: flowPlugins({ groups: ['tcp'] }), flow: NO_TIMEOUTS });
      const out = tshark(['-r', file, '-Y', 'tcp', '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f', '-e', 'tcp.stream', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'tcp.flags', '-e', 'tcp.options.mss_val', '-e', 'tcp.options.wscale.shift', '-e', 'tcp.window_size_value']);
      const streams = new Map<string, string[][]>();
      for (const line of out.split('\n').filter(Boolean)) {
        const f = line.split('|');
        streams.set(f[0], [...(streams.get(f[0]) ?? []), f]);
      }
      assert.ok(streams.size > 0);
      for (const pkts of streams.values()) {
        const row = rows.find((r) => r.first_seen_ns === epochNs(pkts[0][1]) && r.protocol === 6);
        assert.ok(row, `flow for stream ${pkts[0][0]}`);
        const client = `${row.client_addr}:${row.client_port}`;
        const want: Record<string, number> = {};
        for (const d of ['fwd', 'bwd']) for (const f of FLAGS) want[`${d}_${f}_count`] = 0;
        const hs: Record<string, number> = { client_tcp_mss_bytes: -1, client_tcp_window_scale: -1, client_tcp_init_window_bytes: -1, server_tcp_mss_bytes: -1, server_tcp_window_scale: -1, server_tcp_init_window_bytes: -1 };
        for (const [, , s4, s6, sp, flags, mss, ws, win] of pkts) {
          const fromClient = `${s4 || s6}:${sp}` === client;
          const bits = Number(flags);
          FLAGS.forEach((f, i) => {
            if (bits & (1 << i)) want[`${fromClient ? 'fwd' : 'bwd'}_${f}_count`]++;
          });
          const side = fromClient ? 'client' : 'server';
          if (bits & 2 && hs[`${side}_tcp_init_window_bytes`] === -1) {
            hs[`${side}_tcp_mss_bytes`] = mss ? Number(mss) : -1;
            hs[`${side}_tcp_window_scale`] = ws ? Number(ws) : -1;
            hs[`${side}_tcp_init_window_bytes`] = Number(win);
          }
        }
        // An option not seen is null in the record (absent is null, docs/schema.md); -1 marks it here.
        for (const [k, v] of Object.entries({ ...want, ...hs })) assert.equal(row[k], k in hs && v === -1 ? null : v, `stream ${pkts[0][0]} ${k}`);
      }
    });
  }
});
