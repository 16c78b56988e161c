// Anchor for bench/flows: the bare Node.js loop of the issue. It parses only the pcap record, Ethernet, IPv4 and
// TCP/UDP headers and counts packets per flow key in a Map: a floor on what any JS flow meter can cost.
import { openSync, readSync, closeSync } from 'node:fs';

const fd = openSync(process.argv[2], 'r');
const CH = 4 << 20;
let buf = Buffer.alloc(CH * 2);
let start = 0;
let end = 0;
let n;
const flows = new Map();
let packets = 0;
let first = true;
while ((n = readSync(fd, buf, end, buf.length - end, null)) > 0) {
  end += n;
  let p = first ? 24 : start;
  first = false;
  while (end - p >= 16) {
    const cap = buf.readUInt32LE(p + 8);
    if (end - p < 16 + cap) break;
    const e = p + 16;
    if (buf.readUInt16BE(e + 12) === 0x0800) {
      const ip = e + 14;
      const hl = (buf[ip] & 15) * 4;
      const t = ip + hl;
      const a = `${buf.readUInt32BE(ip + 12)}:${buf.readUInt16BE(t)}`;
      const b = `${buf.readUInt32BE(ip + 16)}:${buf.readUInt16BE(t + 2)}`;
      const key = a < b ? `${buf[ip + 9]}|${a}|${b}` : `${buf[ip + 9]}|${b}|${a}`;
      flows.set(key, (flows.get(key) ?? 0) + 1);
    }
    packets++;
    p += 16 + cap;
  }
  buf.copy(buf, 0, p, end);
  end -= p;
  start = 0;
}
closeSync(fd);
console.log(`${packets} packets, ${flows.size} flows`);
