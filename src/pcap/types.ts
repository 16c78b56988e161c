/**
 * Capture-file records and the issues a reader reports.
 *
 * A reader hands each record to a sink as a *reused* `PacketRecord`: the object and the bytes it points
 * into are only valid during the call. Copy what you keep (the pcap writer copies; the decoder does not
 * need to). Reusing one object avoids an allocation per packet on the hot path.
 */

import type { DeviceApp } from './pcapdroid.js';
import type { DeviceProcess } from './darwin.js';

/** LINKTYPE_* values (https://www.tcpdump.org/linktypes.html) that the decoders understand. */
export const LinkType = {
  NULL: 0, // BSD loopback: 4-byte address family in the writer's byte order
  ETHERNET: 1,
  PPP: 9, // PPP, with or without the HDLC address and control bytes (decode/links.ts)
  PPP_HDLC: 50, // PPP in HDLC-like framing, or Cisco HDLC
  PPP_ETHER: 51, // PPPoE session frames without the Ethernet header
  RAW: 101, // raw IPv4 or IPv6, version from the first nibble
  C_HDLC: 104, // Cisco HDLC: address, control, ethertype
  IEEE802_11: 105, // 802.11 frames as in monitor mode (decode/wlan.ts)
  LOOP: 108, // OpenBSD loopback: 4-byte address family in network byte order
  ENC: 109, // OpenBSD enc(4): a 12-byte header (address family, SPI, flags), then IP
  LINUX_SLL: 113,
  PFLOG: 117, // OpenBSD / FreeBSD pf's log: a header of its own length, then IP
  IEEE802_11_PRISM: 119, // a Prism II (or AVS) monitor-mode header, then an 802.11 frame
  IEEE802_11_RADIOTAP: 127, // a radiotap header, then an 802.11 frame
  IEEE802_11_AVS: 163, // an AVS (wlancap) radio header, then an 802.11 frame
  PPP_PPPD: 166, // pppd's PPP: a direction byte where HDLC framing has its address, then control and protocol
  PPI: 192, // CACE's Per-Packet Information header, then a frame of the link type it names (802.11)
  PPP_WITH_DIR: 204, // a direction byte, then PPP as on link type 9
  IPNET: 226, // Solaris ipnet: a 24-byte header (version, family, ...), then IP
  IPV4: 228,
  IPV6: 229,
  NFLOG: 239, // Linux netfilter log: the packet in a type-length-value attribute
  PKTAP: 258, // Apple's PKTAP: a header naming the process, then a frame of the link type it says
  LINUX_SLL2: 276,
} as const;

/** Some systems wrote DLT_RAW values into files instead of LINKTYPE_RAW (libpcap's pcap-common.c maps them). */
export function normalizeLinkType(raw: number): number {
  if (raw === 12 || raw === 14) return LinkType.RAW;
  return raw;
}

export interface PacketRecord {
  /** 1-based number of this record as tshark numbers frames (frame.number): pcapng custom blocks count too. */
  number: number;
  /** Byte offset of the record (pcap record header or pcapng block) in the input. */
  offset: number;
  linkType: number;
  /** pcapng interface id within its section; 0 for classic pcap. */
  interfaceId: number;
  /** Absolute time: whole seconds since the epoch and nanoseconds within that second (0..999,999,999). */
  tsSec: number;
  tsNsec: number;
  /** Bytes present in the file. */
  capLen: number;
  /** Bytes on the wire (original length). */
  origLen: number;
  /** Buffer holding the captured bytes at `dataOffset .. dataOffset + capLen`. */
  data: Uint8Array;
  dataOffset: number;
  /** pcapng opt_comment of the packet, if any. */
  comment: string | undefined;
  /** The sending app's Linux uid from PCAPdroid's packet comment "u-<uid>" (pcapdroid.ts); NO_UID when none. */
  deviceUid: number;
  /** The packet's process in an Apple pcapng capture, as an index in CaptureMetadata.deviceProcesses (darwin.ts); NO_PROCESS (-1) when none. */
  deviceProcess: number;
}

export type IssueSeverity = 'warning' | 'error';

/**
 * A problem in the input. `error`s mean bytes were skipped (a corrupt header, a cut-off file);
 * `warning`s mean the record was kept but something in it is out of spec.
 */
export interface CaptureIssue {
  severity: IssueSeverity;
  code: string;
  file: string;
  /** Byte offset in the input where the problem is. */
  offset: number;
  /** The packet number the problem concerns (the record being read when it was found). */
  packet: number;
  message: string;
}

export function formatIssue(i: CaptureIssue): string {
  return `${i.file}: ${i.severity} at byte offset ${i.offset}, packet ${i.packet}: ${i.message} [${i.code}]`;
}

export interface InterfaceInfo {
  /** Index of the interface within its section (what packet blocks and tshark's frame.interface_id use). */
  id: number;
  /** 0-based section number (pcapng files can hold several sections). */
  section: number;
  linkType: number;
  snapLen: number;
  name?: string;
  description?: string;
  /** if_os: the operating system of the machine that captured on it. */
  os?: string;
  /** Units per second of this interface's timestamps, e.g. 1e6 for microseconds. */
  tsUnitsPerSec: number;
  /** if_tsoffset: seconds added to every timestamp. */
  tsOffsetSec: number;
}

export interface InterfaceStatistics {
  section: number;
  interfaceId: number;
  received?: bigint;
  droppedByInterface?: bigint;
  droppedByOs?: bigint;
  filterAccepted?: bigint;
}

/** What a reader learned besides the packets. */
export interface CaptureMetadata {
  format: 'pcap' | 'pcapng';
  /** A classic pcap's variant: 'modified' for Kuznetzov's modified pcap (24-byte record headers); absent for the standard. */
  variant?: 'modified';
  bigEndian: boolean;
  /** Classic pcap: 1e6 or 1e9; pcapng: per interface. */
  interfaces: InterfaceInfo[];
  sections: number;
  /** Name-resolution records (address text -> names) from pcapng NRBs. */
  names: Map<string, string[]>;
  statistics: InterfaceStatistics[];
  comments: string[];
  /** The first section's shb_hardware, shb_os and shb_userappl (pcapng), as capinfos shows them. */
  hardware?: string;
  os?: string;
  application?: string;
  /** PCAPdroid's uid mappings (pcapng custom blocks of PEN 62652), in file order. */
  deviceApps: DeviceApp[];
  /** Apple's process blocks (pcapng Darwin process event blocks), in file order: what PacketRecord.deviceProcess indexes. */
  deviceProcesses: DeviceProcess[];
}

export interface PacketSink {
  /**
   * One packet record (reused: copy what is kept). Returning true stops the reading after this record, as a packet
   * count does (tshark -c): the parser reads no further, and the result counts the records up to this one.
   */
  packet(rec: PacketRecord): void | boolean;
  /**
   * Called before the records of each chunk of input are parsed, with the buffer they will point into
   * (`buf[start..end)`): a consumer that hands records to other threads can copy the chunk once instead of each
   * record. The buffer is reused after the chunk.
   */
  chunk?(buf: Uint8Array, start: number, end: number): void;
  issue?(issue: CaptureIssue): void;
  /**
   * Backpressure: called after each chunk of input; when it returns a promise, reading waits for it (e.g. until
   * worker threads have caught up), so memory stays bounded when the consumer is slower than the input.
   */
  drain?(): Promise<void> | undefined;
  /** A PCAPdroid uid mapping (pcapng custom block), before the packets of its uid. */
  deviceApp?(app: DeviceApp): void;
  /** An Apple process block, before the packets of its process: the next index of PacketRecord.deviceProcess. */
  deviceProcess?(process: DeviceProcess): void;
  /** Called when a pcapng section starts or an interface appears, before its packets. */
  interfaceAdded?(info: InterfaceInfo): void;
}
