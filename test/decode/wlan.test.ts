import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Decoder } from '../../src/decode/decoder.js';
import { Readable } from 'node:stream';
import { mulberry32 as rng } from '../../src/common/rng.js';
import { extractFlows } from '../../src/meter/meter.js';
import { CaptureFormatError, readCapture } from '../../src/pcap/reader.js';
import { mutateCapture } from '../helpers/mutate.js';
import { cli } from '../helpers/cli.js';
import { type FlowRow, flowsOf } from '../helpers/flows.js';
import { PCAPS, haveTshark, tsharkConversations } from '../helpers/tshark.js';
import { type WlanLink, wlanPcap } from '../helpers/wlan.js';
import { TCPDUMP, filterAgainstTcpdump } from '../helpers/tcpdump.js';

/**
 * 802.11 captures, bare (link type 105, as airdecap-ng writes a decrypted capture) and after each radio header:
 * radiotap (127, a monitor-mode capture on Linux), PPI (192, AirPcap and Kismet), Prism (119) and AVS (163): real Ethernet captures rewritten as Wi-Fi data frames (test/helpers/wlan.ts), with
 * beacons and protected frames between them. tshark's conversations of the rewritten files are the originals',
 * ours are ours of the originals, and `-f` keeps what tcpdump keeps, byte for byte.
 */
const dir = mkdtempSync(join(tmpdir(), 'cs-wlan-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SOURCES = ['tls12-https-heise-offers13.pcap', 'tls-quic-ipv6-cloudflare.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap'];
const LINKS: readonly WlanLink[] = [105, 127, 192, 119, 163];

const rewritten = (src: string, link: WlanLink) => {
  const out = join(dir, `${link}-${src}`);
  if (!existsSync(out)) writeFileSync(out, wlanPcap(join(PCAPS, src), link));
  return out;
};
const withoutCapture = (r: FlowRow) => {
  const { capture: _c, ...rest } = r;
  return JSON.stringify(rest, (_, v) => (typeof v === 'bigint' ? String(v) : ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : v));
};
const conversations = (file: string) => {
  const t = tsharkConversations(file);
  return [...t.tcp, ...t.udp].map((c) => `${c.a} ${c.b} ${c.framesAB} ${c.framesBA}`).sort();
};

describe('802.11 and radiotap', () => {
  it('tshark reads the rewritten captures as the originals: the same TCP and UDP conversations', { skip: !haveTshark() && 'tshark not installed' }, () => {
    for (const src of SOURCES) for (const link of LINKS) assert.deepEqual(conversations(rewritten(src, link)), conversations(join(PCAPS, src)), `${link} ${src}`);
  });

  it('info names each radio header as capinfos does', { skip: !existsSync('/usr/bin/capinfos') && 'capinfos not installed' }, () => {
    for (const link of LINKS) {
      const file = rewritten(SOURCES[0], link);
      const theirs = execFileSync('capinfos', ['-T', '-E', file], { encoding: 'utf8' }).trim().split('\n').at(-1)!.split('\t')[1];
      const r = cli(['info', '--json', file]);
      assert.equal(r.status, 0, r.stderr);
      const name = (JSON.parse(r.stdout) as { encapsulations: Array<{ name: string }> }).encapsulations[0].name;
      assert.ok(name.endsWith(`(${theirs})`), `${link}: ${name} against capinfos's ${theirs}`);
    }
  });

  it('flows of the Wi-Fi captures are the flows of the originals, every column; beacons and protected frames are counted, not metered', async () => {
    for (const src of SOURCES) {
      const want = await flowsOf(join(PCAPS, src));
      for (const link of LINKS) {
        const got = await flowsOf(rewritten(src, link));
        assert.deepEqual(got.rows.map(withoutCapture).sort(), want.rows.map(withoutCapture).sort(), `${link} ${src}`);
        const extra = Math.floor(want.summary.packets / 10);
        assert.equal(got.summary.packets, want.summary.packets + 2 * extra);
        assert.equal(got.summary.dropped['non-ip:wlan-management'], extra, `${link} ${src}: beacons`);
        assert.equal(got.summary.dropped['non-ip:wlan-protected'], extra, `${link} ${src}: protected frames`);
      }
    }
  });

  it('-f keeps the frames tcpdump keeps, byte for byte, on both link types', { skip: TCPDUMP === undefined && 'tcpdump is not installed' }, () => {
    for (const link of LINKS) {
      let kept = 0;
      for (const src of ['dns-udp-edns-ecs-ipv4-ipv6.pcap', 'tls-quic-ipv6-cloudflare.pcap']) {
        const file = rewritten(src, link);
        for (const expr of ['udp port 53', 'ip6', 'host 37.209.192.2', 'tcp or arp', 'not ip', 'ip6 and tcp port 443', 'udp and not port 53']) {
          kept += filterAgainstTcpdump(file, expr, dir, `${link} ${src}`);
        }
      }
      assert.ok(kept > 10_000, `${link}: ${kept} bytes kept`);
    }
  });

  it('mutated Wi-Fi captures: never a throw but "not a capture", and -f on them never throws either', async () => {
    const r = rng(2026120742);
    for (const link of LINKS) {
      const bytes = readFileSync(rewritten('tls-quic-ipv6-cloudflare.pcap', link));
      for (let k = 0; k < 60; k++) {
        const m = mutateCapture(bytes, r);
        try {
          await extractFlows(Readable.from([m]), () => undefined, { bpf: k % 2 === 0 ? 'tcp port 443 or udp' : undefined });
        } catch (e) {
          assert.ok(e instanceof CaptureFormatError && e.offset === 0, `${link} mutation ${k}: ${(e as Error).stack}`);
        }
      }
    }
  });

  it('every cut of a Wi-Fi frame decodes without throwing', async () => {
    for (const link of LINKS) {
      const d = new Decoder();
      let frames = 0;
      await readCapture(rewritten('tls-quic-ipv6-cloudflare.pcap', link), {
        packet(rec) {
          if (frames++ > 24) return true;
          for (let cut = 0; cut <= rec.capLen; cut++) {
            const p = d.decode({ ...rec, capLen: cut });
            assert.ok(p.kind === 'ip' || p.kind === 'malformed' || p.kind === 'non-ip', `${link} frame ${rec.number} cut at ${cut}: ${p.kind}`);
          }
          return false;
        },
      });
    }
  });
});
