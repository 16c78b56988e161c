// Anchor for bench/flows: reading the capture in Node.js and nothing else (4 MiB reads into one buffer, one byte
// of each read summed so the loop cannot be skipped): the floor under any meter that reads the file in Node.
import { closeSync, openSync, readSync } from 'node:fs';

const fd = openSync(process.argv[2], 'r');
const buf = Buffer.allocUnsafe(4 << 20);
let total = 0;
let sum = 0;
let n;
while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) {
  total += n;
  sum += buf[n - 1];
}
closeSync(fd);
process.stdout.write(`${total} bytes read (${sum})\n`);
