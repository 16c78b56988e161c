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
/** The process event block's name option (the pcapng reader reads it with the other blocks' options). */
export const DPEB_NAME = 2;

/** No Apple process recorded for the packet. */
export const NO_PROCESS = -1;

/** A process of an Apple pcapng capture. */
export interface DeviceProcess {
  pid: number;
  /** The command name (e.g. WhatsApp, nsurlsessiond); null when the block has none. */
  name: string | null;
}
