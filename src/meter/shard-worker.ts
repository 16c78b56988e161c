import { parentPort, workerData } from 'node:worker_threads';
import type { PacketRecord } from '../pcap/types.js';
import { type DeviceApp, NO_UID } from '../pcap/pcapdroid.js';
import { type DeviceProcess, NO_PROCESS } from '../pcap/darwin.js';
import { createShardMeter } from './shard-meter.js';
import { threadCpuSec } from '../common/thread-cpu.js';
import { ENTRY, FLAG_OBSERVE, FLAG_TICK, UID_SHIFT, type PacketBatch, type ShardInit, type ShardMessage, countsMessage } from './sharded.js';

/** One shard of extractFlowsSharded (sharded.ts): meters the packet batches the main thread routes here. */
const init = workerData as ShardInit;
const port = parentPort!;
const send = (m: ShardMessage) => port.postMessage(m);
const o = init.options;
// Plugins of one's own register when their module loads, in this thread as in the main one.
for (const m of init.modules) await import(m);

const { meter, flush: flushRows } = createShardMeter(
  init.name,
  init.shard,
  init.shards,
  o,
  o.encode
    ? { text: (bytes, rows) => port.postMessage({ type: 'text', bytes, rows } satisfies ShardMessage, [bytes.buffer as ArrayBuffer]) }
    : { rows: (rows) => send({ type: 'rows', rows }) },
  init.rowsPerMessage,
);
const timer = o.live
  ? setInterval(() => {
      meter.tick();
      flushRows();
      send({ type: 'status', status: meter.status() });
    }, o.live.tickMs)
  : undefined;

// One record object reused for every packet, as the capture parsers do.
const rec: PacketRecord = { number: 0, offset: 0, linkType: 0, interfaceId: 0, tsSec: 0, tsNsec: 0, capLen: 0, origLen: 0, data: new Uint8Array(0), dataOffset: 0, comment: undefined, deviceUid: NO_UID, deviceProcess: NO_PROCESS };

const blocks = new Map<number, Uint8Array>();

port.on('message', (m: PacketBatch | { type: 'end' } | { type: 'device-app'; app: DeviceApp } | { type: 'device-process'; proc: DeviceProcess }) => {
  try {
    if (m.type === 'device-app') {
      meter.deviceApp(m.app);
      return;
    }
    if (m.type === 'device-process') {
      meter.deviceProcess(m.proc);
      return;
    }
    if (m.type === 'end') {
      clearInterval(timer);
      const c = meter.finish();
      flushRows();
      send({ type: 'done', counts: countsMessage(c), cpuSec: threadCpuSec() });
      return;
    }
    for (const b of m.blocks) blocks.set(b.id, new Uint8Array(b.sab));
    const x = m.index;
    let last = -1;
    for (let i = 0, at = 0; i < m.records; i++, at += ENTRY) {
      const packed = x[at + 7];
      const u = Math.floor(packed / UID_SHIFT);
      const kind = packed - u * UID_SHIFT;
      rec.deviceUid = u <= 0 ? NO_UID : u + NO_UID;
      rec.deviceProcess = u < 0 ? -1 - u : NO_PROCESS;
      const flags = Math.floor(kind / 65536);
      rec.tsSec = x[at + 4];
      rec.tsNsec = x[at + 5];
      if (flags & FLAG_TICK) {
        meter.clockTick(rec.tsSec, rec.tsNsec);
        continue;
      }
      if (x[at] !== last) {
        last = x[at];
        rec.data = blocks.get(last)!;
      }
      rec.dataOffset = x[at + 1];
      rec.capLen = x[at + 2];
      rec.origLen = x[at + 3];
      rec.number = x[at + 6];
      rec.linkType = kind - flags * 65536;
      if (flags & FLAG_OBSERVE) meter.observe(rec);
      else meter.packet(rec);
    }
    // Block ids only grow: blocks before the last one this batch used will not be used again.
    for (const id of blocks.keys()) if (id < last) blocks.delete(id);
    // The index goes back to be filled again (sharded.ts Shard.spare).
    port.postMessage({ type: 'ack', index: x } satisfies ShardMessage, [x.buffer as ArrayBuffer]);
  } catch (e) {
    send({ type: 'error', message: (e as Error).stack ?? String(e) });
  }
});
