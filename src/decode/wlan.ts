/**
 * IEEE 802.11 frames as a capture in monitor mode writes them (LINKTYPE_IEEE802_11 105; with a radio header first:
 * radiotap 127, Prism 119 and AVS 163 here, PPI 192 in decode/links.ts), read down to the LLC/SNAP header of a data frame. A capture decrypted
 * by airdecap-ng keeps this link type with its data frames in the clear; frames still protected (WPA) carry no
 * readable IP and are named as such. Every offset is checked against the bytes present. Shared by the decoder and
 * the capture filter (filter/bpf.ts), so both find the network layer at the same place, as libpcap does.
 */

/** A data frame's body that is not LLC/SNAP-encapsulated (or not a data frame at all): why, for the drop count. */
export type WlanReason = 'wlan-management' | 'wlan-control' | 'wlan-extension' | 'wlan-null-data' | 'wlan-protected' | 'wlan-fragment' | 'wlan-a-msdu' | 'wlan-not-snap' | 'wlan-truncated' | 'radiotap-truncated';

/** Where a frame's SNAP header lies (its ethertype is at `snap + 6`, the network layer at `snap + 8`), or why not. */
export interface WlanBody {
  snap: number;
  reason: WlanReason | '';
}

/** The radiotap header's length (little-endian at byte 2), or -1 when it does not fit in the captured bytes. */
export function radiotapLength(d: Uint8Array, o: number, end: number): number {
  if (end - o < 8 || d[o] !== 0) return -1;
  const len = d[o + 2] | (d[o + 3] << 8);
  return len < 8 || o + len > end ? -1 : len;
}

/** The AVS (wlancap) header's magic: 0x80211000 with the version (1 or 2) in the low bits, big-endian. */
const AVS_MAGIC = 0x80211000;
/** The Prism II monitor-mode header's fixed length (struct wlan_ng_prism2_header). */
export const PRISM_HEADER = 144;

/** The AVS header's length (big-endian at byte 4, after the magic and version), or -1 when it is not there whole. */
export function avsLength(d: Uint8Array, o: number, end: number): number {
  if (end - o < 8) return -1;
  const len = ((d[o + 4] << 24) | (d[o + 5] << 16) | (d[o + 6] << 8) | d[o + 7]) >>> 0;
  return len < 8 || len > end - o ? -1 : len;
}

/**
 * The length of a LINKTYPE_IEEE802_11_PRISM frame's radio header, or -1 when it is cut short: the Prism header's
 * 144 bytes, or, when the frame starts with the AVS magic, the AVS header's own length (some Linux drivers of this
 * link type write an AVS header instead; libpcap and Wireshark look for it the same way).
 */
export function prismLength(d: Uint8Array, o: number, end: number): number {
  if (end - o >= 4 && ((((d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]) & 0xfffff000) >>> 0) === AVS_MAGIC) return avsLength(d, o, end);
  return end - o < PRISM_HEADER ? -1 : PRISM_HEADER;
}

/**
 * Read the 802.11 header at `o`: `out.snap` is the SNAP header's offset, or `out.reason` says why there is none.
 * `htControl` false leaves a QoS frame's HT control field (+HTC/order bit) in place as libpcap's filter offsets do
 * (tcpdump's semantics for `-f`); the decoder skips it, as Wireshark does. `swappedFc`: the two frame control bytes
 * come in the other order (CAPWAP from Cisco controllers).
 */
export function wlanBody(d: Uint8Array, o: number, end: number, out: WlanBody, htControl = true, swappedFc = false): WlanBody {
  out.snap = -1;
  out.reason = '';
  if (end - o < 10) return fail(out, 'wlan-truncated');
  const fc0 = swappedFc ? d[o + 1] : d[o];
  const flags = swappedFc ? d[o] : d[o + 1];
  const type = (fc0 >> 2) & 3;
  const subtype = fc0 >> 4;
  if (type !== 2) return fail(out, type === 0 ? 'wlan-management' : type === 1 ? 'wlan-control' : 'wlan-extension');
  // Null and QoS Null (subtype bit 2) carry no body; a protected frame's body is ciphertext.
  if ((subtype & 0x04) !== 0) return fail(out, 'wlan-null-data');
  if ((flags & 0x40) !== 0) return fail(out, 'wlan-protected');
  const qos = (subtype & 0x08) !== 0;
  // Three addresses, or four in a wireless distribution system; then QoS control, then HT control (+HTC/order).
  const qosAt = o + ((flags & 0x03) === 0x03 ? 30 : 24);
  const b = qosAt + (qos ? 2 + (htControl && (flags & 0x80) !== 0 ? 4 : 0) : 0);
  if (end - b < 8) return fail(out, 'wlan-truncated');
  // More fragments, or a fragment number: one MSDU over several frames.
  if ((flags & 0x04) !== 0 || (d[o + 22] & 0x0f) !== 0) return fail(out, 'wlan-fragment');
  // An A-MSDU (QoS control bit 7) carries several packets in one frame; one frame is one packet here.
  if (qos && (d[qosAt] & 0x80) !== 0) return fail(out, 'wlan-a-msdu');
  if (d[b] !== 0xaa || d[b + 1] !== 0xaa || d[b + 2] !== 0x03) return fail(out, 'wlan-not-snap');
  out.snap = b;
  return out;
}

function fail(out: WlanBody, reason: WlanReason): WlanBody {
  out.reason = reason;
  return out;
}
