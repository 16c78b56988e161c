import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { NO_TIMEOUTS, flowsOf } from '../helpers/flows.js';
import { haveTshark, sharedPcaps, tsharkConversations, tsharkStreams } from '../helpers/tshark.js';

/**
 * On every capture in ../shared/pcaps, packet counts and the TCP and UDP conversation
 * tables equal tshark's. Two independent tshark views are used: `-z conv,tcp|udp` (frames exact; bytes as
 * tshark prints them, which is rounded to kB/MB above 9,999) and per-stream sums of frame.len from `-T fields`
 * (exact bytes). Our side runs with frame-length accounting (tshark's conversation bytes are frame lengths) and
 * timeouts large enough that only port reuse splits a conversation.
 */
type Key = string;

function orient(a: string, b: string, ab: number[], ba: number[]): Key {
  return a < b ? `${a}|${b}|${ab.join('/')}|${ba.join('/')}` : `${b}|${a}|${ba.join('/')}|${ab.join('/')}`;
}

function printedMatches(printed: string, exact: number): boolean {
  const m = /^(\d+) (bytes|kB|MB|GB)$/.exec(printed);
  if (!m) return false;
  const scale = { bytes: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as 'bytes'];
  if (scale === 1) return Number(m[1]) === exact;
  return Math.abs(exact / scale - Number(m[1])) < 1; // tshark rounds to whole kB/MB
}

describe('flows equal tshark conversations on every shared capture', { skip: !haveTshark() && 'tshark not installed' }, () => {
  for (const file of sharedPcaps()) {
    it(basename(file), async () => {
      const { rows, summary } = await flowsOf(file, { flow: { ...NO_TIMEOUTS, lengthMode: 'frame' } });
      const view = tsharkStreams(file);
      const tables = tsharkConversations(file);
      assert.equal(summary.packets, view.frames, 'packet count');
      for (const [proto, num] of [
        ['tcp', 6],
        ['udp', 17],
      ] as const) {
        const ours = rows.filter((r) => r.protocol === num);
        const endpoints = (r: (typeof ours)[number]) => [`${r.client_addr}:${r.client_port}`, `${r.server_addr}:${r.server_port}`] as const;
        // Exact: frames and bytes each way, per stream.
        const mine = ours.map((r) => {
          const [c, s] = endpoints(r);
          return orient(c, s, [r.fwd_packets as number, r.fwd_bytes as number], [r.bwd_packets as number, r.bwd_bytes as number]);
        });
        const fields = view[proto].map((c) => orient(c.a, c.b, [c.framesAB, c.bytesAB], [c.framesBA, c.bytesBA]));
        assert.deepEqual(mine.sort(), fields.sort(), `${proto} streams (frames/bytes each way)`);
        // The conversation table as tshark prints it.
        const conv = tables[proto];
        assert.equal(ours.length, conv.length, `${proto} conversation count`);
        const unmatched = [...ours];
        for (const c of conv) {
          const i = unmatched.findIndex((r) => {
            const [cl, sv] = endpoints(r);
            const ab = cl === c.a && sv === c.b;
            const ba = cl === c.b && sv === c.a;
            if (!ab && !ba) return false;
            const [fAB, bAB, fBA, bBA] = ab ? [r.fwd_packets, r.fwd_bytes, r.bwd_packets, r.bwd_bytes] : [r.bwd_packets, r.bwd_bytes, r.fwd_packets, r.fwd_bytes];
            // tshark's table gives a reassembled datagram the length of its last frame only; such flows were checked
            // exactly against the fields view above (which adds the other fragments), so only frames are compared here.
            const bytesOk = (r.reassembled_datagrams as number) > 0 || (printedMatches(c.bytesAB, bAB as number) && printedMatches(c.bytesBA, bBA as number));
            return fAB === c.framesAB && fBA === c.framesBA && bytesOk;
          });
          assert.ok(i >= 0, `${proto} conversation ${c.a} <-> ${c.b} (${c.framesAB}/${c.bytesAB} -> , ${c.framesBA}/${c.bytesBA} <-) has no equal flow`);
          unmatched.splice(i, 1);
        }
      }
    });
  }
});

