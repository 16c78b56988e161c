import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { mulberry32 as rng } from '../../src/common/rng.js';
import { Decoder } from '../../src/decode/decoder.js';
import { extractFlows } from '../../src/meter/meter.js';
import { CaptureFormatError, readCapture } from '../../src/pcap/reader.js';
import { cli } from '../helpers/cli.js';
import { parseCsv } from '../helpers/csv.js';
import { type FlowRow, flowsOf } from '../helpers/flows.js';
import { LINK_REWRITES, type LinkRewrite, PKTAP_PROCESSES, linkPcap, nflogBigEndian } from '../helpers/links.js';
import { mutateCapture } from '../helpers/mutate.js';
import { TCPDUMP, filterAgainstTcpdump } from '../helpers/tcpdump.js';
import { PCAPS, haveTshark, tshark, tsharkConversations } from '../helpers/tshark.js';

/**
 * The less common link types (decode/links.ts): real Ethernet captures rewritten as PPP, PPP in HDLC framing, PPPoE
 * without Ethernet, Cisco HDLC, OpenBSD enc, pflog, pppd's PPP and PPP after a direction byte, Solaris IPNET, NFLOG
 * (both byte orders) and Apple PKTAP (test/helpers/links.ts). tshark's
 * conversations of the rewritten files are the originals', ours are ours of the originals, PKTAP's process is
 * tshark's, and `-f` keeps what tcpdump keeps, byte for byte, where tcpdump can filter the link type at all.
 */
const dir = mkdtempSync(join(tmpdir(), 'cs-links-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SOURCES = ['tls12-https-heise-offers13.pcap', 'tls-quic-ipv6-cloudflare.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap'];
type Variant = LinkRewrite | '239be';
const VARIANTS: readonly Variant[] = [...LINK_REWRITES, '239be'];

const rewritten = (src: string, v: Variant) => {
  const out = join(dir, `${v}-${src}`);
  if (!existsSync(out)) {
    const le = linkPcap(join(PCAPS, src), v === '239be' ? 239 : v).bytes;
    writeFileSync(out, v === '239be' ? nflogBigEndian(le) : le);
  }
  return out;
};
const DEVICE = new Set(['capture', 'device_app_name', 'device_app_pid']);
const key = (r: FlowRow) =>
  JSON.stringify(
    Object.fromEntries(Object.entries(r).filter(([k]) => !DEVICE.has(k))),
    (_, v) => (typeof v === 'bigint' ? String(v) : ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : v),
  );
const conversations = (file: string) => {
  const t = tsharkConversations(file);
  return [...t.tcp, ...t.udp].map((c) => `${c.a} ${c.b} ${c.framesAB} ${c.framesBA}`).sort();
};
/** The records' times of a pcap (nanosecond or microsecond), which name the packets kept from the same capture. */
const times = (file: string) => {
  const b = readFileSync(file);
  const nano = b.readUInt32LE(0) === 0xa1b23c4d;
  const out: string[] = [];
  for (let at = 24; at + 16 <= b.length; at += 16 + b.readUInt32LE(at + 8)) out.push(`${b.readUInt32LE(at)}.${nano ? b.readUInt32LE(at + 4) : b.readUInt32LE(at + 4) * 1000}`);
  return out;
};

describe('PPP, HDLC, PPPoE, pflog, pppd, NFLOG and PKTAP link types', () => {
  it('tshark reads the rewritten captures as the originals: the same TCP and UDP conversations', { skip: !haveTshark() && 'tshark not installed' }, () => {
    for (const src of SOURCES) {
      const want = conversations(join(PCAPS, src));
      assert.ok(want.length > 0);
      // Wireshark cannot read pppd's link type (166: "network type 166 unknown or unsupported"); tcpdump reads it below.
      for (const v of VARIANTS) if (v !== 166) assert.deepEqual(conversations(rewritten(src, v)), want, `${v} ${src}`);
    }
  });

  it("tcpdump reads pppd's captures (166) as the originals, packet by packet", { skip: TCPDUMP === undefined && 'tcpdump is not installed' }, () => {
    const read = (file: string) =>
      execFileSync(TCPDUMP!, ['-n', '-q', '-tt', '-r', file, 'ip or ip6'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
    for (const src of SOURCES) {
      const want = read(join(PCAPS, src));
      assert.ok(want.length > 10);
      assert.deepEqual(read(rewritten(src, 166)), want, src);
    }
  });

  it('info names each link type as capinfos does', { skip: !existsSync('/usr/bin/capinfos') && 'capinfos not installed' }, () => {
    for (const v of LINK_REWRITES) {
      const file = rewritten(SOURCES[1], v);
      if (v === 166) {
        // capinfos cannot read it; the name is tcpdump's.
        const t = spawnSync(TCPDUMP ?? 'tcpdump', ['-c', '1', '-r', file], { encoding: 'utf8' });
        const r = cli(['info', '--json', file]);
        assert.equal(r.status, 0, r.stderr);
        const name = (JSON.parse(r.stdout) as { encapsulations: Array<{ name: string }> }).encapsulations[0].name;
        if (t.status === 0) assert.ok(t.stderr.includes(`(${name.replace(/ \(ppp-pppd\)$/, '')})`), `166: ${name} against tcpdump's ${t.stderr}`);
        continue;
      }
      const theirs = execFileSync('capinfos', ['-T', '-E', file], { encoding: 'utf8' }).trim().split('\n').at(-1)!.split('\t')[1];
      const r = cli(['info', '--json', file]);
      assert.equal(r.status, 0, r.stderr);
      const name = (JSON.parse(r.stdout) as { encapsulations: Array<{ name: string }> }).encapsulations[0].name;
      assert.ok(name.endsWith(`(${theirs})`), `${v}: ${name} against capinfos's ${theirs}`);
    }
  });

  it('flows of the rewritten captures are the flows of the originals, every column, on one thread and on two', async () => {
    for (const src of SOURCES) {
      const want = await flowsOf(join(PCAPS, src));
      for (const v of VARIANTS) {
        const file = rewritten(src, v);
        const got = await flowsOf(file);
        assert.deepEqual(got.rows.map(key).sort(), want.rows.map(key).sort(), `${v} ${src}`);
        assert.equal(got.summary.packets, want.summary.packets, `${v} ${src}`);
        assert.deepEqual(got.summary.dropped, want.summary.dropped, `${v} ${src}`);
        if (v !== 258) for (const r of got.rows) assert.equal(r.device_app_name, null);
        // Shards number their flows apart: every column but capture and flow_id.
        const rows = (csv: string) =>
          parseCsv(csv)
            .slice(1)
            .map((x) => x.slice(2).join(','))
            .sort();
        const two = cli(['flows', file, '--threads', '2', '-o', '-', '-q']);
        const one = cli(['flows', file, '-o', '-', '-q']);
        assert.equal(two.status, 0, two.stderr);
        assert.ok(rows(one.stdout).length === want.rows.length);
        assert.deepEqual(rows(two.stdout), rows(one.stdout), `${v} ${src}: --threads 2`);
      }
    }
  });

  it("a PKTAP flow is named with its first packet's process, as tshark reads it, and labeled first-hand with it", { skip: !haveTshark() && 'tshark not installed' }, async () => {
    for (const src of SOURCES) {
      const file = rewritten(src, 258);
      const fields = tshark(['-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'pktap.epid', '-e', 'pktap.ecmdname'])
        .trim()
        .split('\n')
        .map((l) => l.split('\t'));
      const byTime = new Map(fields.map(([t, pid, name]) => [t.replace('.', '').replace(/^0+/, ''), { pid: Number(pid), name }]));
      const { rows } = await flowsOf(file);
      for (const r of rows) {
        const first = byTime.get(String(r.first_seen_ns));
        assert.ok(first !== undefined, `${src}: no frame at ${r.first_seen_ns}`);
        assert.equal(r.device_app_name, first.name, `${src} flow at ${r.first_seen_ns}`);
        assert.equal(r.device_app_pid, first.pid);
        assert.equal(r.device_app_uid, null);
        assert.ok((PKTAP_PROCESSES as readonly string[]).includes(first.name));
      }
      const out = join(dir, 'labeled.csv');
      const l = cli(['label', file, '--capture-action', 'WhatsApp/chat', '--apps', 'pcapdroid', '-o', out]);
      assert.equal(l.status, 0, l.stderr);
      const [head, ...records] = parseCsv(readFileSync(out, 'utf8'));
      const [ia, ie, in_] = ['app', 'app_evidence', 'device_app_name'].map((c) => head.indexOf(c));
      assert.ok(records.length > 0);
      for (const cells of records) {
        assert.equal(cells[ie], 'pktap');
        assert.equal(cells[ia], cells[in_]);
      }
    }
  });

  it('-f keeps the frames tcpdump keeps, byte for byte, where libpcap filters the link type', { skip: TCPDUMP === undefined && 'tcpdump is not installed' }, () => {
    let kept = 0;
    const run = (file: string, expr: string) => {
      kept += filterAgainstTcpdump(file, expr, dir);
    };
    const v4 = ['ip', 'ip and tcp port 443', 'host 193.99.144.85', 'ip and udp port 53', 'ip and not udp'];
    const all = [...v4, 'tcp port 443', 'udp port 53', 'not udp', 'ip6', 'ip6 and tcp port 443', 'udp and not port 53', 'host 37.209.192.2 or ip6'];
    for (const src of SOURCES) {
      // PPP as libpcap reads it: the protocol at offset 2, so a frame without the address and control bytes does
      // not match (the capture has them on a third of the frames) and Cisco HDLC frames in link type 50 do not either.
      for (const v of [9, 50, 51, 104, 109, 166, 226] as const) for (const expr of all) run(rewritten(src, v), expr);
      // pflog: libpcap on Linux takes AF_INET6 as Linux numbers it (10), so only IPv4 expressions agree.
      for (const expr of v4) run(rewritten(src, 117), expr);
    }
    assert.ok(kept > 20_000, `${kept} bytes kept`);
  });

  it('-f on pflog IPv6, PPP with a direction byte, NFLOG and PKTAP keeps the packets tcpdump keeps of the Ethernet original', { skip: TCPDUMP === undefined && 'tcpdump is not installed' }, () => {
    const exprs = ['ip', 'ip6', 'tcp', 'udp port 53', 'ip6 and tcp port 443', 'host 37.209.192.2', 'host 2001:db8:1::1 and udp', 'not port 443'];
    let kept = 0;
    for (const src of SOURCES) {
      for (const expr of exprs) {
        const theirs = join(dir, 'theirs.pcap');
        execFileSync(TCPDUMP!, ['--time-stamp-precision=nano', '-r', join(PCAPS, src), '-w', theirs, expr], { stdio: 'ignore' });
        const want = times(theirs);
        for (const v of [117, 204, 239, '239be', 258] as const) {
          const ours = join(dir, 'ours.pcap');
          const r = cli(['filter', rewritten(src, v), '-f', expr, '--keep-noise', '-o', ours, '-q']);
          assert.equal(r.status, 0, r.stderr);
          assert.deepEqual(times(ours), want, `${v} ${src} -f "${expr}"`);
          kept += want.length;
        }
      }
    }
    assert.ok(kept > 500, `${kept} packets kept`);
    // What tcpdump itself says of 204, NFLOG and PKTAP: it cannot filter them.
    for (const v of [204, 239, 258] as const) {
      const t = spawnSync(TCPDUMP!, ['-r', rewritten(SOURCES[0], v), '-w', join(dir, 'x.pcap'), 'tcp'], { encoding: 'utf8' });
      assert.notEqual(t.status, 0);
      assert.match(t.stderr, /not implemented|not supported/i);
    }
  });

  it('OpenBSD loopback (108): -f keeps what tcpdump keeps, byte for byte, and the flows are the BSD loopback original\'s', { skip: TCPDUMP === undefined && 'tcpdump is not installed' }, async () => {
    let kept = 0;
    for (const src of ['null-loopback-ipv6-http.pcap', 'quic-null-loopback-handshake.pcap']) {
      // The same capture with DLT_LOOP's header: the address family in network byte order.
      const b = Buffer.from(readFileSync(join(PCAPS, src)));
      assert.equal(b.readUInt32LE(20), 0);
      b.writeUInt32LE(108, 20);
      for (let at = 24; at + 16 <= b.length; at += 16 + b.readUInt32LE(at + 8)) b.writeUInt32BE(b.readUInt32LE(at + 16), at + 16);
      const file = join(dir, `108-${src}`);
      writeFileSync(file, b);
      assert.deepEqual((await flowsOf(file)).rows.map(key).sort(), (await flowsOf(join(PCAPS, src))).rows.map(key).sort());
      for (const expr of ['ip6', 'ip', 'tcp port 80', 'udp', 'ip6 and not tcp', 'host ::1']) kept += filterAgainstTcpdump(file, expr, dir, src);
    }
    assert.ok(kept > 5_000, `${kept} bytes kept`);
  });

  it('frames without IP are counted by what they are, and short headers as malformed', async () => {
    const pcap = (link: number, frames: number[][]) => {
      const head = Buffer.alloc(24);
      head.writeUInt32LE(0xa1b2c3d4, 0);
      head.writeUInt16LE(2, 4);
      head.writeUInt16LE(4, 6);
      head.writeUInt32LE(0xffff, 16);
      head.writeUInt32LE(link, 20);
      return Buffer.concat([head, ...frames.flatMap((f, i) => {
        const h = Buffer.alloc(16);
        h.writeUInt32LE(1_700_000_000 + i, 0);
        h.writeUInt32LE(f.length, 8);
        h.writeUInt32LE(f.length, 12);
        return [h, Buffer.from(f)];
      })]);
    };
    const dropped = async (b: Buffer) => (await flowsOf(b)).summary.dropped;
    // PPP: LCP (0xc021) with and without address and control; IPCP (0x8021); a lone address byte.
    assert.deepEqual(await dropped(pcap(9, [[0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4], [0xc0, 0x21, 1, 1, 0, 4], [0x80, 0x21, 1, 1, 0, 4], [0x00]])), {
      'non-ip:ppp-0xc021': 2,
      'non-ip:ppp-0x8021': 1,
      'malformed:ppp-truncated': 1,
    });
    // Cisco HDLC: SLARP (0x8035) and a cut header.
    assert.deepEqual(await dropped(pcap(104, [[0x8f, 0, 0x80, 0x35, 0, 0, 0, 0], [0x0f, 0]])), { 'non-ip:chdlc-slarp': 1, 'malformed:chdlc-truncated': 1 });
    // pflog: a header length below the oldest layout's, and an address family that is not IP.
    const pf = (length: number, af: number) => [length, af, ...new Array(70).fill(0)];
    assert.deepEqual(await dropped(pcap(117, [pf(20, 2), pf(61, 7)])), { 'malformed:pflog-bad-header-length': 1, 'non-ip:pflog-af-7': 1 });
    // NFLOG: no payload attribute; an attribute whose length is below its own header.
    assert.deepEqual(await dropped(pcap(239, [[2, 0, 0, 1, 8, 0, 1, 0, 8, 0, 3, 0], [2, 0, 0, 1, 0, 2, 0, 9]])), { 'non-ip:nflog-no-payload': 1, 'malformed:nflog-bad-attribute-length': 1 });
    // PKTAP: a record that is not a packet, a header length below 108, and a PKTAP header inside PKTAP.
    const tap = (length: number, type: number, dlt: number) => {
      const h = Buffer.alloc(120);
      h.writeUInt32LE(length, 0);
      h.writeUInt32LE(type, 4);
      h.writeUInt32LE(dlt, 8);
      return [...h];
    };
    assert.deepEqual(await dropped(pcap(258, [tap(108, 0, 1), tap(100, 1, 1), tap(108, 1, 258)])), {
      'non-ip:pktap-no-packet': 1,
      'malformed:pktap-bad-header-length': 1,
      'malformed:pktap-nested': 1,
    });
    // enc(4): an address family that is not IP, and a header cut short; IPNET likewise.
    const encHeader = (af: number) => [af, 0, 0, 0, 0, 0, 0x10, 0, 0, 4, 0, 0, 0x45];
    assert.deepEqual(await dropped(pcap(109, [encHeader(7), encHeader(2).slice(0, 11)])), { 'non-ip:enc-af-7': 1, 'malformed:enc-truncated': 1 });
    const ipnetHeader = (family: number) => [2, family, ...new Array(22).fill(0), 0x60];
    assert.deepEqual(await dropped(pcap(226, [ipnetHeader(9), ipnetHeader(2).slice(0, 23)])), { 'non-ip:ipnet-family-9': 1, 'malformed:ipnet-truncated': 1 });
    // pppd's PPP and PPP after a direction byte: LCP either way, and a frame with nothing after the direction byte.
    assert.deepEqual(await dropped(pcap(166, [[0x01, 0x03, 0xc0, 0x21, 1, 1, 0, 4], [0x00]])), { 'non-ip:ppp-0xc021': 1, 'malformed:ppp-truncated': 1 });
    assert.deepEqual(await dropped(pcap(204, [[0x01, 0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4], [0x00, 0xc0, 0x21, 1, 1, 0, 4], [0x01]])), {
      'non-ip:ppp-0xc021': 2,
      'malformed:ppp-truncated': 1,
    });
    // PPI: another version, a length below its own 8 bytes or past the frame, and a PPI header inside PPI.
    const ppiHeader = (version: number, length: number, dlt: number) => {
      const h = Buffer.alloc(40);
      h[0] = version;
      h.writeUInt16LE(length, 2);
      h.writeUInt32LE(dlt, 4);
      if (dlt === 192) h.writeUInt16LE(8, 10); // the inner PPI header's own length
      return [...h];
    };
    assert.deepEqual(await dropped(pcap(192, [ppiHeader(1, 8, 105), ppiHeader(0, 4, 105), ppiHeader(0, 41, 105), ppiHeader(0, 8, 192)])), {
      'malformed:ppi-version-1': 1,
      'malformed:ppi-bad-header-length': 1,
      'malformed:ppi-truncated': 1,
      'malformed:ppi-nested': 1,
    });
    // Prism's header is 144 bytes; an AVS header (in either link type) says its own length, here past the frame.
    const avsHeader = (length: number) => [0x80, 0x21, 0x10, 0x01, 0, 0, length >> 8, length & 0xff, ...new Array(92).fill(0)];
    assert.deepEqual(await dropped(pcap(119, [new Array(143).fill(0), avsHeader(120)])), { 'malformed:prism-truncated': 2 });
    assert.deepEqual(await dropped(pcap(163, [avsHeader(120), avsHeader(4)])), { 'malformed:avs-truncated': 2 });
  });

  it('every cut of a frame decodes without throwing, and mutated captures never throw but "not a capture"', async () => {
    const r = rng(2026120751);
    for (const v of VARIANTS) {
      const file = rewritten('tls-quic-ipv6-cloudflare.pcap', v);
      const d = new Decoder();
      let frames = 0;
      await readCapture(file, {
        packet(rec) {
          if (frames++ > 12) return true;
          for (let cut = 0; cut <= rec.capLen; cut++) {
            const p = d.decode({ ...rec, capLen: cut });
            assert.ok(p.kind === 'ip' || p.kind === 'malformed' || p.kind === 'non-ip', `${v} frame ${rec.number} cut at ${cut}: ${p.kind} ${p.reason}`);
          }
          return false;
        },
      });
      const bytes = readFileSync(file);
      for (let k = 0; k < 30; k++) {
        const m = mutateCapture(bytes, r);
        try {
          await extractFlows(Readable.from([m]), () => undefined, { bpf: k % 2 === 0 ? 'tcp port 443 or udp' : undefined });
        } catch (e) {
          assert.ok(e instanceof CaptureFormatError && e.offset === 0, `${v} mutation ${k}: ${(e as Error).stack}`);
        }
      }
    }
  });
});
