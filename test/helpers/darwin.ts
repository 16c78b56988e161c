import { readFileSync } from 'node:fs';
import { END_OF_OPTIONS as END, pad4 as pad, pcapngBlock as block, pcapngOption as opt, u32 } from './pcapng.js';

/**
 * A real Ethernet capture (classic pcap, little-endian) rewritten as Apple's tcpdump writes a pktap capture in
 * pcapng: per section a header, an interface, Darwin process event blocks (process id, name option) each written
 * just before the first packet that names it, and enhanced packet blocks with the Darwin options: the owner's
 * process number (0x8001), for some packets the effective process's (0x8003: a daemon working for an app), and the
 * service class (0x8002). The capture is split in two sections at `splitAt` of the packets, so the second numbers
 * its processes from 0 again. `process(n)` says which processes packet n names.
 */
export const DARWIN_PROCESSES = [
  ['Safari', 812],
  ['WhatsApp', 913],
  ['nsurlsessiond', 233],
  ['Mail', 1401],
] as const;

/** Which processes (indexes of DARWIN_PROCESSES) packet `n` names: its socket's owner and, when set, the effective one. */
export function darwinProcessOf(n: number): { owner: number; effective?: number } {
  // nsurlsessiond working for WhatsApp or Mail on every fourth packet; the others their own process.
  if (n % 4 === 3) return { owner: 2, effective: n % 8 === 3 ? 1 : 3 };
  return { owner: n % 3 === 2 ? 3 : n % 3 };
}

export function applePcapng(src: string, splitAt = 0.5): Buffer {
  const b = readFileSync(src);
  if (b.readUInt32LE(0) !== 0xa1b2c3d4 || b.readUInt32LE(20) !== 1) throw new Error(`${src}: expected a little-endian microsecond pcap of Ethernet`);
  const records: Array<[number, number, Buffer, number]> = [];
  for (let at = 24; at + 16 <= b.length; at += 16 + b.readUInt32LE(at + 8)) {
    const incl = b.readUInt32LE(at + 8);
    records.push([b.readUInt32LE(at), b.readUInt32LE(at + 4), b.subarray(at + 16, at + 16 + incl), b.readUInt32LE(at + 12)]);
  }
  const split = Math.floor(records.length * splitAt);
  const parts: Buffer[] = [];
  let numbered = new Map<number, number>(); // process -> its number in this section
  records.forEach(([sec, usec, data, orig], n) => {
    if (n === 0 || n === split) {
      parts.push(block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), Buffer.from([1, 0, 0, 0]), Buffer.alloc(8, 0xff), END])));
      parts.push(block(1, Buffer.concat([Buffer.from([1, 0, 0, 0]), u32(0), opt(2, Buffer.from('pktap')), END])));
      numbered = new Map();
    }
    const { owner, effective } = darwinProcessOf(n);
    const number = (p: number) => {
      let k = numbered.get(p);
      if (k === undefined) {
        k = numbered.size;
        numbered.set(p, k);
        const [name, pid] = DARWIN_PROCESSES[p];
        parts.push(block(0x80000001, Buffer.concat([u32(pid), opt(2, Buffer.from(name)), END])));
      }
      return k;
    };
    const options = [opt(0x8001, u32(number(owner))), ...(effective === undefined ? [] : [opt(0x8003, u32(number(effective)))]), opt(0x8002, u32(0)), END];
    const us = BigInt(sec) * 1_000_000n + BigInt(usec);
    const head = Buffer.concat([u32(0), u32(Number(us >> 32n)), u32(Number(us & 0xffffffffn)), u32(data.length), u32(orig)]);
    parts.push(block(6, Buffer.concat([head, pad(Buffer.from(data)), ...options])));
  });
  return Buffer.concat(parts);
}
