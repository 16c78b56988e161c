import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { sharedPcaps, tshark } from '../helpers/tshark.js';

/** `info` against capinfos (Wireshark's): every number it shares, on every shared capture capinfos reads. */
const CAPINFOS = existsSync('/usr/bin/capinfos');

function capinfos(file: string): Record<string, string> | undefined {
  let out: string;
  try {
    out = execFileSync('capinfos', ['-T', '-M', '-c', '-s', '-d', '-u', '-a', '-e', '-z', '-E', '-H', '-o', file], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined; // a capture capinfos cannot read whole
  }
  const [head, row] = out.trim().split('\n');
  const h = head.split('\t');
  const r = row.split('\t');
  return Object.fromEntries(h.map((k, i) => [k, r[i]]));
}

describe('info against capinfos', { skip: CAPINFOS ? false : 'capinfos (wireshark-common) is not installed' }, () => {
  it('packets, sizes, duration, times, average size, hashes and time order agree on every shared capture', () => {
    let compared = 0;
    for (const file of sharedPcaps()) {
      const c = capinfos(file);
      if (c === undefined) continue;
      const r = cli(['info', '--json', file]);
      assert.equal(r.status, 0, `${file}: ${r.stderr}`);
      const o = JSON.parse(r.stdout);
      const name = file.split('/').pop();
      assert.equal(o.packets, Number(c['Number of packets']), `${name}: packets`);
      assert.equal(o.fileBytes, Number(c['File size (bytes)']), `${name}: file size`);
      assert.equal(o.dataBytes, Number(c['Data size (bytes)']), `${name}: data size`);
      assert.equal(o.sha256, c.SHA256, `${name}: SHA256`);
      assert.equal(o.sha1, c.SHA1, `${name}: SHA1`);
      // capinfos says Unknown where some record has no time stamp of its own; it is not compared there.
      if (c['Strict time order'] !== 'Unknown') assert.equal(o.strictTimeOrder ? 'True' : 'False', c['Strict time order'], `${name}: time order`);
      if (o.packets > 0 && !/^\d{4}-/.test(c['Start time'])) {
        // A capture whose times run past year 9999 (an interface with a bogus time offset): capinfos's span leaves
        // out the first interface's packets there; ours is the span of the packet times tshark gives.
        const times = tshark(['-r', file, '-T', 'fields', '-e', 'frame.time_epoch']).trim().split('\n').map(Number);
        assert.ok(Math.abs(o.durationSec - (Math.max(...times) - Math.min(...times))) < 1e-3 * o.durationSec, `${name}: duration against tshark`);
      } else if (o.packets > 0) {
        assert.ok(Math.abs(o.durationSec - Number(c['Capture duration (seconds)'])) < 1e-6, `${name}: duration ${o.durationSec} vs ${c['Capture duration (seconds)']}`);
        // Within the last printed digit: printf rounds a half to even, toFixed away from zero.
        assert.ok(Math.abs(o.averagePacketBytes - Number(c['Average packet size (bytes)'])) <= 0.0051, `${name}: average size ${o.averagePacketBytes} vs ${c['Average packet size (bytes)']}`);
        // capinfos prints the times with the file's digits; ours have 9: the same instant, truncated to theirs.
        const start = c['Start time'];
        const ns = BigInt(o.firstNs);
        const utcFirst = `${new Date(Number(ns / 1_000_000_000n) * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
        assert.equal(utcFirst.slice(0, start.length), start, `${name}: first packet time`);
        if (o.encapsulations.length === 1 && c['File encapsulation'] !== 'per-packet') assert.ok(o.encapsulations[0].name.includes(`(${c['File encapsulation']})`), `${name}: ${o.encapsulations[0].name} vs ${c['File encapsulation']}`);
      }
      compared++;
    }
    assert.ok(compared >= 40, `${compared} captures compared`);
  });

  it("the capture's and each interface's names, systems and packet counts are capinfos's, on every shared pcapng", () => {
    let compared = 0;
    for (const file of sharedPcaps().filter((f) => f.endsWith('.pcapng'))) {
      // Packets per interface, in the order the interfaces appear: tshark's count by section and interface.
      const counts = new Map<string, number>();
      for (const l of tshark(['-r', file, '-T', 'fields', '-e', 'frame.section_number', '-e', 'frame.interface_id']).trim().split('\n')) {
        if (/^\d+\t\d+$/.test(l)) counts.set(l, (counts.get(l) ?? 0) + 1);
      }
      const j = JSON.parse(cli(['info', '--json', file]).stdout) as { interfaces: Array<{ section: number; id: number; packets: number }> };
      for (const f of j.interfaces) assert.equal(f.packets, counts.get(`${f.section + 1}\t${f.id}`) ?? 0, `${file}: interface ${f.id} of section ${f.section}`);
      // capinfos numbers interfaces across sections by their id alone (and counts them so): single sections only.
      if (j.interfaces.some((f) => f.section > 0)) continue;
      let theirs: string;
      try {
        theirs = execFileSync('capinfos', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        continue; // a capture capinfos cannot read whole
      }
      const r = cli(['info', file]);
      assert.equal(r.status, 0, r.stderr);
      // The lines both print, in capinfos's words: the capture's, then each interface's block in order.
      const KEYS = /^(Capture hardware|Capture oper-sys|Capture application|Number of interfaces in file):\s+(.*)$|^Interface #\d+|^\s+(Name|Description|Operating system|Number of packets) = (.*)$/;
      const pick = (text: string) =>
        text
          .split('\n')
          .map((l) => KEYS.exec(l))
          .filter((m) => m !== null)
          .map((m) => (m![1] !== undefined ? `${m![1]}: ${m![2].trim()}` : m![3] !== undefined ? `  ${m![3]} = ${m![4].trim()}` : 'interface'));
      assert.deepEqual(pick(r.stdout), pick(theirs), file);
      compared++;
    }
    assert.ok(compared >= 6, `${compared} captures compared`);
  });

  it('the text names things as capinfos does', () => {
    const r = cli(['info', sharedPcaps().find((f) => f.endsWith('sll-mixed-tcp-dns-arp.pcap'))!]);
    assert.match(r.stdout, /^File name: +\S+/m);
    assert.match(r.stdout, /^File encapsulation: +Linux cooked-mode capture v1 \(linux-sll\)$/m);
    assert.match(r.stdout, /^Number of packets: +518$/m);
    assert.match(r.stdout, /^Capture duration: +51\.017912000 seconds$/m);
    assert.match(r.stdout, /^Strict time order: +True$/m);
  });

  it('several captures, as capinfos takes them: a block each with a blank line between; a missing one is reported and the rest still described', () => {
    const files = sharedPcaps().filter((f) => /tcp-retransmissions|rawip-tcp|pcapng-2-interfaces-dns/.test(f));
    assert.equal(files.length, 3);
    const one = files.map((f) => cli(['info', f]).stdout);
    const all = cli(['info', files[0], files[1], '-r', files[2]]);
    assert.equal(all.status, 0, all.stderr);
    assert.equal(all.stdout, one.join('\n'));
    // The packet counts, in order, as capinfos gives them for the same files.
    const counts = (t: string) => [...t.matchAll(/^Number of packets: +(\d+)/gm)].map((m) => Number(m[1]));
    assert.deepEqual(counts(all.stdout), counts(execFileSync('capinfos', ['-c', ...files], { encoding: 'utf8' })));
    const missing = cli(['info', files[0], '/nonexistent/x.pcap', files[1]]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /\/nonexistent\/x\.pcap/);
    assert.equal(missing.stdout, one.slice(0, 2).join('\n'));
    const json = JSON.parse(cli(['info', '--json', ...files]).stdout) as Array<{ file: string; packets: number }>;
    assert.deepEqual(json.map((j) => j.file), files);
    assert.deepEqual(json.map((j) => j.packets), counts(all.stdout));
  });
});
