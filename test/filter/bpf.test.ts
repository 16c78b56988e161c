import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BpfSyntaxError, compileBpf } from '../../src/filter/bpf.js';
import { mulberry32 } from '../../src/common/rng.js';
import { synthFrame } from '../../src/pcap/synth.js';

/** The capture filter's parser: errors that name the word, hand-checked matches, and no crash on any input. */
const frame = (p: Parameters<typeof synthFrame>[0]) => {
  const data = synthFrame(p);
  return { data, offset: 0, capLen: data.length, wireLen: data.length, linkType: 1 };
};
const tcp = frame({ sec: 0, nsec: 0, src: '10.1.2.3', dst: '192.0.2.9', sport: 40000, dport: 443, proto: 'tcp' });
const udp6 = frame({ sec: 0, nsec: 0, src: '2001:db8::5', dst: 'fe80::1', sport: 5353, dport: 53, proto: 'udp' });

describe('capture filter syntax', () => {
  it('matches by hand-checked rules', () => {
    const yes = (e: string, f = tcp) => assert.equal(compileBpf(e)(f), true, e);
    const no = (e: string, f = tcp) => assert.equal(compileBpf(e)(f), false, e);
    yes('tcp');
    no('udp');
    yes('host 10.1.2.3');
    yes('src host 10.1.2.3 and dst port 443');
    no('dst host 10.1.2.3');
    yes('net 10.0.0.0/8');
    yes('net 10');
    no('net 10.2.0.0/16');
    yes('portrange 400-500');
    yes('tcp port https');
    yes('port 1 or 443');
    no('not tcp');
    yes('udp and port 53', udp6);
    yes('ip6 net 2001:db8::/32', udp6);
    yes('src net 2001:db8::/32 and dst net fe80::/10', udp6);
    no('ip', udp6);
    yes('');
    // A read past the captured bytes rejects the packet, even under "not".
    no('not tcp port 80', { ...tcp, capLen: 30 });
  });

  it('mistakes are errors naming the word', () => {
    const bad: Array<[string, RegExp]> = [
      ['tcp prot 80', /"prot"/],
      ['host', /ends too early/],
      ['port 70000', /above 65535/],
      ['host 10.0.0', /not a host address/],
      ['net 10.0.0.1/8', /non-network bits/],
      ['host example.com', /not an address/],
      ['(tcp', /missing "\)"/],
      ['tcp[13] & 2 != 0', /byte-offset/],
      ['tcp ) udp', /unexpected "\)"/],
      ['icmp port 3', /not a filter/],
      ['len ~ 5', /unexpected character/],
      ['('.repeat(300) + 'tcp' + ')'.repeat(300), /nested deeper/],
    ];
    for (const [e, why] of bad) assert.throws(() => compileBpf(e), (err: unknown) => err instanceof BpfSyntaxError && why.test((err as Error).message), e);
  });

  it('2,000 random expressions: each one compiles or is a BpfSyntaxError, never another failure', () => {
    const words = ['tcp', 'udp', 'ip', 'ip6', 'arp', 'host', 'net', 'port', 'portrange', 'src', 'dst', 'and', 'or', 'not', '(', ')', '!', '&&', '||', 'vlan', 'proto', 'mask', 'less', 'greater', 'len', '<=', '10.0.0.1', '10.0.0.0/8', '::1', '53', '1-1023', '255.0.0.0', '\\tcp', 'icmp6', '[', ']', '='];
    const r = mulberry32(7);
    let ok = 0;
    for (let i = 0; i < 2000; i++) {
      const n = 1 + Math.floor(r() * 8);
      const e = Array.from({ length: n }, () => words[Math.floor(r() * words.length)]).join(' ');
      try {
        const f = compileBpf(e);
        f(tcp);
        f(udp6);
        ok++;
      } catch (err) {
        assert.ok(err instanceof BpfSyntaxError, `${e}: ${(err as Error).stack}`);
      }
    }
    assert.ok(ok > 50, `${ok} compiled`);
  });
});
