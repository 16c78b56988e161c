import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Decoder } from '../../src/decode/decoder.js';
import { AppMatcher, loadAppRules } from '../../src/features/apps.js';
import { NO_UID, parseUidMapBlock, readTrailer, trailerName, uidFromComment } from '../../src/pcap/pcapdroid.js';
import { readCapture } from '../../src/pcap/reader.js';
import { cli } from '../helpers/cli.js';
import { flowsOf } from '../helpers/flows.js';
import { PHONE_APPS, pcapdroidPcapng, phonePackets, trailerPcap } from '../helpers/pcapdroid.js';
import { haveTshark, tshark } from '../helpers/tshark.js';
import { parseCsv } from '../helpers/csv.js';

const dir = mkdtempSync(join(tmpdir(), 'cipherscope-pcapdroid-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const packets = phonePackets();
const files = {
  trailer: join(dir, 'trailer.pcap'),
  'trailer-v1': join(dir, 'trailer-v1.pcap'),
  pcapng: join(dir, 'pcapdroid.pcapng'),
};
writeFileSync(files.trailer, trailerPcap(packets, 2));
writeFileSync(files['trailer-v1'], trailerPcap(packets, 1));
writeFileSync(files.pcapng, pcapdroidPcapng(packets));

/**
 * PCAPdroid's own Wireshark dissector (tools/pcapdroid.lua in emanuele-f/PCAPdroid), read from a local copy: the
 * PCAPDROID_LUA file, or a mirror of the repository. Not part of this repository (it is PCAPdroid's code).
 */
function pcapdroidLua(): string | undefined {
  if (process.env.PCAPDROID_LUA && existsSync(process.env.PCAPDROID_LUA)) return process.env.PCAPDROID_LUA;
  for (const repo of ['/work/.mirror/emanuele-f+PCAPdroid/repo']) {
    if (!existsSync(repo)) continue;
    const out = join(dir, 'pcapdroid.lua');
    writeFileSync(out, execFileSync('git', ['--git-dir', repo, 'show', 'HEAD:tools/pcapdroid.lua']));
    return out;
  }
  return undefined;
}

/** Ours, packet by packet: uid, name, package. */
async function ourPackets(file: string): Promise<string[][]> {
  const dec = new Decoder();
  const out: string[][] = [];
  await readCapture(file, {
    packet(rec) {
      const p = dec.decode(rec);
      const m = dec.deviceApps.get(p.deviceUid);
      out.push([p.deviceUid === NO_UID ? '' : String(p.deviceUid), p.deviceNameOffset >= 0 ? trailerName(p.data, p.deviceNameOffset, p.deviceNameBytes) : (m?.appName ?? ''), m?.packageName ?? '']);
    },
    deviceApp: (a) => dec.addDeviceApp(a),
  });
  return out;
}

describe('PCAPdroid app labels', () => {
  it('parses the trailer layouts, the uid mapping block and the comments, and rejects what does not fit', () => {
    assert.equal(uidFromComment('u-10123'), 10123);
    assert.equal(uidFromComment('u--1'), -1);
    for (const c of [undefined, '', 'u-', 'u-12x', 'x-1', 'u-99999999999']) assert.equal(uidFromComment(c), NO_UID, String(c));
    const block = Buffer.from([1, 0, 1, 0, 0x8b, 0x27, 0, 0, 3, 2, 0x61, 0x2e, 0x62, 0x41, 0x42]);
    assert.deepEqual(parseUidMapBlock(block, 0, block.length, true), { ok: true, app: { uid: 10123, packageName: 'a.b', appName: 'AB' } });
    assert.match((parseUidMapBlock(block, 0, block.length - 1, true) as { message: string }).message, /run past the block's end/);
    assert.match((parseUidMapBlock(Buffer.from([2, 0, 1, 0]), 0, 4, true) as { message: string }).message, /version 2/);
    // A frame with real MAC addresses, or bytes that only look like a trailer, is not PCAPdroid's.
    const frame = trailerPcap(packets.slice(0, 1), 2).subarray(40);
    const ipEnd = 14 + packets[0].ip.length;
    assert.equal(readTrailer(frame, 0, frame.length, ipEnd)?.uid, 10123);
    const withMac = Buffer.from(frame);
    withMac[0] = 2;
    assert.equal(readTrailer(withMac, 0, withMac.length, ipEnd), undefined);
    assert.equal(readTrailer(frame, 0, frame.length - 1, ipEnd), undefined, 'the magic must sit where a layout puts it');
  });

  it('every packet of all three layouts carries the uid, name and package the writer gave it', async () => {
    for (const [layout, file] of Object.entries(files)) {
      const ours = await ourPackets(file);
      assert.equal(ours.length, packets.length, layout);
      ours.forEach((row, i) => {
        const app = PHONE_APPS.find((a) => a.uid === packets[i].uid)!;
        const name = layout === 'pcapng' ? app.appName : app.appName.slice(0, layout === 'trailer' ? 20 : 16);
        assert.deepEqual(row, [String(app.uid), name, layout === 'pcapng' ? app.packageName : ''], `${layout} packet ${i + 1}`);
      });
    }
  });

  it("tshark's Ethernet trailer of each packet holds our magic, uid and name (both trailer layouts)", { skip: haveTshark() ? false : 'needs tshark' }, async () => {
    for (const layout of ['trailer', 'trailer-v1'] as const) {
      const trailers = tshark(['-r', files[layout], '-T', 'fields', '-e', 'eth.trailer']).trim().split('\n');
      const ours = await ourPackets(files[layout]);
      assert.equal(trailers.length, ours.length);
      trailers.forEach((hex, i) => {
        // tshark takes the last 4 bytes as the FCS (PCAPdroid's CRC-32 checks out); the padding comes first.
        const b = Buffer.from(hex.replace(/^(00){0,3}(?=01072021)/, ''), 'hex');
        assert.equal(b.readUInt32BE(0), 0x01072021, `${layout} packet ${i + 1} magic`);
        assert.equal(String(b.readInt32BE(4)), ours[i][0], `${layout} packet ${i + 1} uid`);
        assert.equal(b.subarray(8).toString('utf8').replace(/\0+$/, ''), ours[i][1], `${layout} packet ${i + 1} name`);
      });
    }
  });

  const lua = haveTshark() ? pcapdroidLua() : undefined;
  it("matches PCAPdroid's own Wireshark dissector field by field (current trailer and pcapng)", { skip: lua ? false : 'needs tshark and a copy of PCAPdroid tools/pcapdroid.lua (PCAPDROID_LUA)' }, async () => {
    for (const layout of ['trailer', 'pcapng'] as const) {
      // The uid mapping blocks are records of their own in tshark (frame.cb_pen); packets are the rest.
      const rows = tshark(['-X', `lua_script:${lua}`, '-r', files[layout], '-Y', '!frame.cb_pen', '-T', 'fields', '-e', 'pcapdroid.uid', '-e', 'pcapdroid.appname', '-e', 'pcapdroid.packagename'])
        .replace(/\n$/, '')
        .split('\n')
        .map((l) => l.split('\t'));
      const ours = await ourPackets(files[layout]);
      assert.equal(rows.length, ours.length, layout);
      rows.forEach((r, i) => assert.deepEqual(ours[i], r, `${layout} packet ${i + 1}: ours vs pcapdroid.lua`));
    }
  });

  it('names flows pcapdroid first of all, by package or name; label --apps pcapdroid and filter --app use it', async () => {
    const apps = new AppMatcher(loadAppRules());
    const { rows } = await flowsOf(files.pcapng, { apps });
    assert.deepEqual(
      rows.map((r) => [r.device_app_uid, r.device_app, r.app, r.app_evidence, r.app_host]),
      [
        [10123, 'com.whatsapp', 'WhatsApp', 'pcapdroid', 'com.whatsapp'],
        [10200, 'org.telegram.messenger', 'Telegram', 'pcapdroid', 'org.telegram.messenger'],
        [10345, 'com.example.a.rather.long.package', 'com.example.a.rather.long.package', 'pcapdroid', 'com.example.a.rather.long.package'],
      ],
    );
    // The trailer has only the name: a rule's app of that name, else the name.
    const v1 = (await flowsOf(files['trailer-v1'], { apps })).rows;
    assert.deepEqual(
      v1.map((r) => [r.device_app, r.device_app_name, r.app]),
      [
        [null, 'WhatsApp', 'WhatsApp'],
        [null, 'Telegram', 'Telegram'],
        [null, 'Example App With', 'Example App With'],
      ],
    );
    const labeled = join(dir, 'labeled.csv');
    const l = cli(['label', files.trailer, '--capture-action', 'WhatsApp/text', '--apps', 'pcapdroid', '-o', labeled, '-q']);
    assert.equal(l.status, 0, l.stderr);
    const t = parseCsv(readFileSync(labeled, 'utf8'));
    const at = (n: string) => t[0].indexOf(n);
    assert.deepEqual(
      t.slice(1).map((r) => [r[at('label_app')], r[at('label_action')]]),
      [
        ['WhatsApp', 'text'],
        ['Telegram', 'impertinent'],
        ['Example App With A L', 'impertinent'],
      ],
    );
    const out = join(dir, 'whatsapp.pcapng');
    const f = cli(['filter', files.pcapng, '--app', 'com.whatsapp', '-o', out]);
    assert.equal(f.status, 0, f.stderr);
    const kept = (await ourPackets(out)).length;
    assert.equal(kept, packets.filter((p) => p.uid === 10123).length);
  });

  it('filter into pcapng keeps the labels: comments and uid mappings as tshark reads them, the same flows after it; into pcap it warns', async () => {
    const out = join(dir, 'filtered.pcapng');
    const f = cli(['filter', files.pcapng, '--keep-noise', '-o', out, '-q']);
    assert.equal(f.status, 0, f.stderr);
    assert.doesNotMatch(f.stderr, /warning/);
    // tshark: every packet's comment as in the input, and the custom blocks still counted as frames of their own.
    const comments = (file: string) => tshark(['-r', file, '-T', 'fields', '-e', 'frame.number', '-e', 'frame.comment']);
    assert.equal(comments(out), comments(files.pcapng));
    assert.deepEqual(await ourPackets(out), await ourPackets(files.pcapng));
    const apps = new AppMatcher(loadAppRules());
    const cols = (r: Record<string, unknown>) => [r.device_app_uid, r.device_app, r.device_app_name, r.app, r.app_evidence];
    assert.deepEqual((await flowsOf(out, { apps })).rows.map(cols), (await flowsOf(files.pcapng, { apps })).rows.map(cols));
    const pcap = cli(['filter', files.pcapng, '-o', join(dir, 'filtered.pcap'), '-q']);
    assert.equal(pcap.status, 0, pcap.stderr);
    assert.match(pcap.stderr, /warning: classic pcap holds no packet comments or pcapng blocks: \d+ of them .* write \.pcapng to keep them/);
  });

  it('the same flows on one thread and on two (uids and mappings reach every shard)', () => {
    const run = (threads: number) => {
      const r = cli(['flows', files.pcapng, '--apps', '--threads', String(threads), '-q']);
      assert.equal(r.status, 0, r.stderr);
      const t = parseCsv(r.stdout);
      const at = (n: string) => t[0].indexOf(n);
      return t
        .slice(1)
        .map((x) => ['server_addr', 'device_app_uid', 'device_app', 'device_app_name', 'app', 'app_evidence'].map((n) => x[at(n)]).join(' '))
        .sort();
    };
    const one = run(1);
    assert.equal(one.length, 3);
    assert.deepEqual(run(2), one);
  });
});
