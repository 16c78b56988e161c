import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Decoder } from '../../src/decode/decoder.js';
import { extractFlows } from '../../src/meter/meter.js';
import { ALL_GROUPS, flowPlugins } from '../../src/features/plugins.js';
import { CaptureFormatError, readCapture } from '../../src/pcap/reader.js';
import { pcapdroidPcapng, phonePackets, trailerPcap } from '../helpers/pcapdroid.js';
import { LinkType, type PacketRecord } from '../../src/pcap/types.js';
import { sharedPcaps } from '../helpers/tshark.js';
import { HOSTILE, pcapOf } from '../helpers/hostile.js';
import { mulberry32 as rng } from '../../src/common/rng.js';
import { NO_UID } from '../../src/pcap/pcapdroid.js';
import { mutateCapture as mutate } from '../helpers/mutate.js';

describe('fuzz: mutated captures never throw out of the reader, decoder or meter', () => {
  // Small fixtures keep a few thousand runs quick.
  const fixtures = sharedPcaps().filter((f) => statSync(f).size < 64 * 1024);

  it(`${fixtures.length} fixtures x 60 seeded mutations each, every feature group`, { timeout: 300_000 }, async () => {
    const r = rng(20261123);
    let runs = 0;
    let withIssues = 0;
    let rejected = 0;
    for (const file of fixtures) {
      const orig = readFileSync(file);
      for (let k = 0; k < 60; k++) {
        const buf = mutate(orig, r);
        runs++;
        let issues = 0;
        try {
          const s = await extractFlows(Readable.from([buf]), () => {}, { onIssue: () => issues++, plugins: flowPlugins({ groups: ALL_GROUPS }) });
          assert.ok(s.packets >= 0 && s.records >= s.flows);
          if (issues > 0) withIssues++;
        } catch (e) {
          // The only acceptable throw: the input is not a capture at all, said with the file offset.
          assert.ok(e instanceof CaptureFormatError, `${basename(file)} mutation ${k}: ${(e as Error).stack}`);
          assert.match((e as Error).message, /byte offset 0/);
          rejected++;
        }
      }
    }
    assert.ok(runs >= 2000, `ran ${runs}`);
    // The mutations must actually hit something: many runs report issues.
    assert.ok(withIssues > runs / 10, `${withIssues} of ${runs} runs reported issues`);
    assert.ok(rejected < runs / 4);
  });

  it('every hostile generator as a seed (floods of SYNs, half-open TLS, colliding hashes, DNS answers, fragments), mutated 420 times under a small memory budget and flow table', { timeout: 180_000 }, async () => {
    const r = rng(20261202);
    const sizes: Record<string, number> = { 'syn-flood': 400, 'half-open-tls': 450, 'hash-flood': 300, 'dns-answers': 300, 'dns-one-flow': 2, fragments: 400 };
    const seeds = Object.entries(HOSTILE).map(([name, c]) => pcapOf(sizes[name] ?? 100, c.make));
    assert.equal(seeds.length, 6);
    let runs = 0;
    for (let k = 0; k < 420; k++) {
      const buf = mutate(seeds[k % seeds.length], r);
      runs++;
      try {
        const s = await extractFlows(Readable.from([buf]), () => {}, { onIssue: () => {}, plugins: flowPlugins({ groups: ALL_GROUPS }), flow: { maxFlows: 64 }, memoryMiB: 16 });
        assert.ok(s.records >= s.flows && s.evicted >= 0);
        assert.ok(s.memoryPeakBytes <= 16 * 1024 * 1024 + 256 * 1024, `mutation ${k}: the budget held ${s.memoryPeakBytes} bytes`);
      } catch (e) {
        assert.ok(e instanceof CaptureFormatError, `mutation ${k}: ${(e as Error).stack}`);
      }
    }
    assert.equal(runs, 420);
  });

  it("PCAPdroid's trailer and pcapng blocks, mutated 600 times: no throw; every uid a packet carries is an int32", { timeout: 120_000 }, async () => {
    const r = rng(62652);
    const packets = phonePackets();
    const seeds = [trailerPcap(packets, 2), trailerPcap(packets, 1), pcapdroidPcapng(packets)];
    let withIssues = 0;
    for (let k = 0; k < 600; k++) {
      const buf = mutate(seeds[k % 3], r);
      const dec = new Decoder();
      try {
        await readCapture(Readable.from([buf]), {
          packet(rec) {
            const p = dec.decode(rec);
            if (p.deviceUid !== NO_UID) assert.ok(Number.isInteger(p.deviceUid) && p.deviceUid >= -0x80000000 && p.deviceUid <= 0x7fffffff);
            if (p.deviceNameOffset >= 0) assert.ok(p.deviceNameOffset >= rec.dataOffset && p.deviceNameOffset + p.deviceNameBytes <= rec.dataOffset + rec.capLen);
          },
          deviceApp: (a) => dec.addDeviceApp(a),
          issue: () => withIssues++,
        });
      } catch (e) {
        assert.ok(e instanceof CaptureFormatError, `mutation ${k}: ${(e as Error).stack}`);
      }
    }
    assert.ok(withIssues > 0);
  });

  it('decoder: random and truncated frames on every link type keep offsets inside the captured bytes', () => {
    const r = rng(7);
    const decoder = new Decoder();
    const links = [LinkType.ETHERNET, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.RAW, LinkType.NULL, LinkType.LOOP, LinkType.IPV4, LinkType.IPV6];
    const rec: PacketRecord = { number: 0, offset: 0, linkType: 1, interfaceId: 0, tsSec: 0, tsNsec: 0, capLen: 0, origLen: 0, data: new Uint8Array(0), dataOffset: 0, comment: undefined, deviceUid: NO_UID, deviceProcess: -1 };
    let ip = 0;
    for (let i = 0; i < 20000; i++) {
      const len = Math.floor(r() * 120);
      const data = new Uint8Array(len);
      for (let j = 0; j < len; j++) data[j] = Math.floor(r() * 256);
      rec.linkType = links[i % links.length];
      // Bias towards IP so the deeper decoders run: set plausible ethertype / version nibbles.
      if (rec.linkType === LinkType.ETHERNET && len > 14) {
        data[12] = r() < 0.5 ? 0x08 : 0x86;
        data[13] = data[12] === 0x08 ? 0x00 : 0xdd;
        data[14] = data[12] === 0x08 ? 0x45 : 0x60;
      }
      if ((rec.linkType === LinkType.RAW || rec.linkType === LinkType.IPV4) && len > 0) data[0] = 0x45;
      rec.data = data;
      rec.capLen = len;
      rec.origLen = len;
      const p = decoder.decode(rec);
      if (p.kind !== 'ip') continue;
      ip++;
      assert.ok(p.l4Offset <= p.capturedEnd && p.capturedEnd <= p.data.length, 'transport offset within captured bytes');
      if (p.proto === 6) assert.ok(p.l4Offset + p.tcpHeaderLen <= p.capturedEnd && p.tcpHeaderLen >= 20 && p.payloadLen >= 0);
      if (p.proto === 17) assert.ok(p.l4Offset + 8 <= p.capturedEnd && p.payloadLen >= 0);
      assert.ok(p.ipLen >= 20);
    }
    decoder.finish();
    assert.ok(ip > 100, `only ${ip} frames decoded as IP`);
  });
});
