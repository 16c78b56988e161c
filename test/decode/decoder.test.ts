import { NO_UID } from '../../src/pcap/pcapdroid.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decoder } from '../../src/decode/decoder.js';
import { parseTcpOptions } from '../../src/decode/packet.js';
import { LinkType, type PacketRecord } from '../../src/pcap/types.js';

function rec(linkType: number, bytes: number[], origLen = bytes.length): PacketRecord {
  const data = Uint8Array.from(bytes);
  return { number: 1, offset: 0, linkType, interfaceId: 0, tsSec: 1, tsNsec: 0, capLen: data.length, origLen, data, dataOffset: 0, comment: undefined, deviceUid: NO_UID, deviceProcess: -1 };
}

const be16 = (v: number) => [v >> 8, v & 255];
const ETH = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];

/** IPv4 header with `opts` option bytes (a multiple of 4), protocol and payload length. */
function ipv4(proto: number, payload: number[], opts: number[] = [], flagsFrag = 0, id = 1): number[] {
  const hl = 20 + opts.length;
  return [0x40 | (hl / 4), 0, ...be16(hl + payload.length), ...be16(id), ...be16(flagsFrag), 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, ...opts, ...payload];
}

function tcp(sport: number, dport: number, flags: number, opts: number[] = [], payload: number[] = []): number[] {
  const hl = 20 + opts.length;
  return [...be16(sport), ...be16(dport), 0, 0, 0, 1, 0, 0, 0, 0, (hl / 4) << 4, flags, 0xff, 0xff, 0, 0, 0, 0, ...opts, ...payload];
}

const udp = (sport: number, dport: number, payload: number[]) => [...be16(sport), ...be16(dport), ...be16(8 + payload.length), 0, 0, ...payload];

describe('decoder', () => {
  it('IPv4 with options, TCP with MSS / window scale / SACK-permitted / timestamp options', () => {
    const opts = [2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0]; // 24 bytes
    const frame = [...ETH, 0x08, 0x00, ...ipv4(6, tcp(40000, 443, 0x02, opts), [0x94, 0x04, 0, 0])];
    const p = new Decoder().decode(rec(LinkType.ETHERNET, frame));
    assert.equal(p.kind, 'ip');
    assert.equal(p.ipLen, 24 + 20 + opts.length);
    assert.equal(p.srcPort, 40000);
    assert.equal(p.tcpHeaderLen, 20 + opts.length);
    assert.equal(p.payloadLen, 0);
    assert.deepEqual(parseTcpOptions(p), { mss: 1460, windowScale: 7, sackPermitted: true, timestamp: [1, 2] });
  });

  it('Ethernet padding is not counted; a short snap length keeps header lengths and marks truncation', () => {
    const frame = [...ETH, 0x08, 0x00, ...ipv4(17, udp(53, 5353, [1, 2])), 0, 0, 0, 0, 0, 0, 0, 0];
    const p = new Decoder().decode(rec(LinkType.ETHERNET, frame));
    assert.equal(p.ipLen, 20 + 10);
    assert.equal(p.payloadLen, 2);
    assert.equal(p.truncated, false);
    const cut = [...ETH, 0x08, 0x00, ...ipv4(17, udp(53, 53, new Array(100).fill(7)))].slice(0, 60);
    const q = new Decoder().decode(rec(LinkType.ETHERNET, cut, 142));
    assert.equal(q.kind, 'ip');
    assert.equal(q.ipLen, 128);
    assert.equal(q.payloadLen, 100);
    assert.equal(q.truncated, true);
  });

  it('TSO captures with IPv4 total length 0 use the captured length', () => {
    const bytes = ipv4(6, tcp(1, 2, 0x10, [], [9, 9, 9]));
    bytes[2] = 0;
    bytes[3] = 0;
    const p = new Decoder().decode(rec(LinkType.RAW, bytes));
    assert.equal(p.kind, 'ip');
    assert.equal(p.ipLen, 43);
    assert.equal(p.payloadLen, 3);
  });

  it('IPv6 hop-by-hop and destination options are walked to the transport header', () => {
    const hbh = [60, 0, 1, 4, 0, 0, 0, 0]; // next = destination options
    const dst = [17, 0, 1, 4, 0, 0, 0, 0]; // next = UDP
    const payload = [...hbh, ...dst, ...udp(5000, 53, [1, 2, 3])];
    const addr = (x: number) => [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x];
    const frame = [0x60, 0, 0, 0, ...be16(payload.length), 0, 64, ...addr(1), ...addr(2), ...payload];
    const p = new Decoder().decode(rec(LinkType.RAW, frame));
    assert.equal(p.kind, 'ip');
    assert.equal(p.proto, 17);
    assert.equal(p.dstPort, 53);
    assert.equal(p.ipLen, 40 + payload.length);
    assert.equal(p.l4Len, 11);
    // An extension header that claims more than was captured is malformed, not an out-of-bounds read.
    const bad = frame.slice();
    bad[40 + 1] = 200;
    assert.equal(new Decoder().decode(rec(LinkType.RAW, bad)).reason, 'ipv6-extension-truncated');
  });

  it('IPv4 fragments reassemble in any order; the datagram counts once with all fragment frame lengths', () => {
    const data = udp(1000, 2000, Array.from({ length: 40 }, (_, i) => i));
    const d = new Decoder();
    const second = [...ETH, 0x08, 0x00, ...ipv4(17, data.slice(24), [], 3, 77)]; // offset 3*8 = 24, last
    const first = [...ETH, 0x08, 0x00, ...ipv4(17, data.slice(0, 24), [], 0x2000, 77)]; // MF
    assert.equal(d.decode(rec(LinkType.ETHERNET, second)).kind, 'fragment');
    const p = d.decode(rec(LinkType.ETHERNET, first));
    assert.equal(p.kind, 'ip');
    assert.equal(p.reassembled, true);
    assert.equal(p.srcPort, 1000);
    assert.equal(p.payloadLen, 40);
    assert.equal(p.ipLen, 20 + 48);
    assert.equal(p.frameLen, second.length + first.length);
    assert.equal(d.reassembler.stats.datagrams, 1);
  });

  it('unfinished fragments are counted, not lost silently', () => {
    const d = new Decoder();
    d.decode(rec(LinkType.RAW, ipv4(17, udp(1, 2, [1, 2, 3, 4, 5, 6, 7, 8]), [], 0x2000, 5)));
    d.finish();
    assert.equal(d.reassembler.stats.unfinished, 1);
  });

  it('stacked VLANs, 802.3/LLC, MPLS, SLL2 and loopback families', () => {
    const inner = ipv4(17, udp(1, 2, []));
    const qinq = new Decoder().decode(rec(LinkType.ETHERNET, [...ETH, 0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, 0x08, 0x00, ...inner]));
    assert.equal(qinq.kind, 'ip');
    assert.equal(qinq.vlan, 100 * 4096 + 200);
    const llc = new Decoder().decode(rec(LinkType.ETHERNET, [...ETH, 0x00, 0x26, 0x42, 0x42, 0x03, 0, 0, 0, 0, 0]));
    assert.deepEqual([llc.kind, llc.reason], ['non-ip', 'llc']);
    const mpls = new Decoder().decode(rec(LinkType.ETHERNET, [...ETH, 0x88, 0x47, 0, 0x01, 0x01, 0x40, ...inner]));
    assert.equal(mpls.kind, 'ip');
    const sll2arp = new Decoder().decode(rec(LinkType.LINUX_SLL2, [0x08, 0x06, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0, 1]));
    assert.deepEqual([sll2arp.kind, sll2arp.reason], ['non-ip', 'arp']);
    const nullBe = new Decoder().decode(rec(LinkType.NULL, [0, 0, 0, 2, ...inner]));
    const nullLe = new Decoder().decode(rec(LinkType.NULL, [2, 0, 0, 0, ...inner]));
    assert.equal(nullBe.kind, 'ip');
    assert.equal(nullLe.kind, 'ip');
    const unknown = new Decoder().decode(rec(147, [1, 2, 3]));
    assert.deepEqual([unknown.kind, unknown.reason], ['unsupported-link', 'linktype-147']);
  });

  it('lengths that lie are malformed with a reason', () => {
    const cases: Array<[number[], string]> = [
      [[0x45, 0, 0, 10, ...new Array(16).fill(0)], 'ipv4-total-length-below-header'],
      [[0x4f, ...new Array(30).fill(0)], 'ipv4-options-truncated'],
      [ipv4(6, [0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0, 0, 0, 0, 0, 0, 0]), 'tcp-header-exceeds-segment'],
      [ipv4(17, [0, 1, 0, 2, 0]), 'udp-header-truncated'],
    ];
    for (const [bytes, reason] of cases) {
      const p = new Decoder().decode(rec(LinkType.RAW, bytes));
      assert.deepEqual([p.kind, p.reason], ['malformed', reason]);
    }
  });
});
