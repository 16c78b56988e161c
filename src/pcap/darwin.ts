/**
 * Apple's pcapng process information (macOS's tcpdump on `pktap` writing pcapng, captures of an iPhone's remote
 * virtual interface saved as pcapng): instead of a PKTAP header before each frame (decode/links.ts), each process
 * is a Darwin Process Event Block (type 0x80000001: the process id, then options: its name, its UUID), numbered from
 * 0 in the order of its section, and each enhanced packet block names the socket's owner (option 0x8001) and, when
 * a daemon such as nsurlsessiond worked for an app, the effective process (0x8003) by that number. Wireshark reads
 * them the same way (wiretap/pcapng-darwin-custom.h, the file-pcapng dissector's "Darwin Process Event Block").
 */

export const BT_DARWIN_PROCESS = 0x80000001;
/** Options of an enhanced packet block: the owner's and the effective process's block number. */
export const EPB_DARWIN_PROCESS = 0x8001;
export const EPB_DARWIN_EFFECTIVE_PROCESS = 0x8003;
const DPEB_NAME = 2;

/** No Apple process recorded for the packet. */
export const NO_PROCESS = -1;

/** A process of an Apple pcapng capture. */
export interface DeviceProcess {
  pid: number;
  /** The command name (e.g. WhatsApp, nsurlsessiond); null when the block has none. */
  name: string | null;
}

export type ParsedProcess = { ok: true; process: DeviceProcess } | { ok: false; message: string };

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * The process event block body at `o` (after type and length) up to `end` (before the trailing length), in the
 * section's byte order; options are walked without trusting their lengths.
 */
export function parseDarwinProcessBlock(buf: Uint8Array, dv: DataView, o: number, end: number, le: boolean): ParsedProcess {
  if (end - o < 4) return { ok: false, message: `Darwin process event block of ${end - o + 12} bytes has no process id` };
  const pid = dv.getUint32(o, le);
  let name: string | null = null;
  for (let q = o + 4; q + 4 <= end; ) {
    const code = dv.getUint16(q, le);
    const len = dv.getUint16(q + 2, le);
    if (code === 0) break;
    if (q + 4 + len > end) return { ok: false, message: `option ${code} of length ${len} runs past the end of the Darwin process event block` };
    if (code === DPEB_NAME) {
      const bytes = buf.subarray(q + 4, q + 4 + len);
      const nul = bytes.indexOf(0);
      name = utf8.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
    }
    q += 4 + ((len + 3) & ~3);
  }
  return { ok: true, process: { pid, name } };
}
