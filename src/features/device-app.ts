import type { DecodedPacket } from '../decode/packet.js';
import type { Flow, FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { type DeviceApp, NO_UID, trailerName } from '../pcap/pcapdroid.js';
import { pktapProcess } from '../decode/links.js';

/**
 * The app that sent a flow, as the device itself recorded it: PCAPdroid's per-packet uid (trailer or pcapng
 * comment) and its uid mappings (src/pcap/pcapdroid.ts), or the process that Apple's PKTAP header names (macOS's
 * `tcpdump -i pktap`, an iPhone's remote virtual interface; decode/links.ts) or, in Apple's pcapng, the packet's
 * process block (src/pcap/darwin.ts). First-hand ground truth, the kind
 * tPacketCapture gave the paper. A flow takes its first packet's label: both label sockets, so every packet of a
 * flow carries the same one.
 */

interface DeviceState {
  /** PCAPdroid's uid, or null for a PKTAP label. */
  uid: number | null;
  /** The name the packet itself carries: PCAPdroid's trailer name (the pcap layout has no package), or the PKTAP process's. */
  name: string | null;
  /** The PKTAP process id, or null for a PCAPdroid label. */
  pid: number | null;
  apps: ReadonlyMap<number, DeviceApp>;
}

export const DEVICE_COLUMNS: readonly ColumnDef[] = [
  { name: 'device_app_uid', type: 'int', unit: '', identifier: true, description: "Linux uid of the app that sent the flow, from PCAPdroid's packet trailer or pcapng comment (u-<uid>); -1 is PCAPdroid's unknown; empty for other captures." },
  { name: 'device_app', type: 'string', unit: '', identifier: true, description: "Android package of device_app_uid (e.g. com.whatsapp), from PCAPdroid's pcapng uid mapping block; empty when the capture has no mapping (the pcap trailer carries only the name)." },
  { name: 'device_app_name', type: 'string', unit: '', identifier: true, description: "The app's name as PCAPdroid shows it (the trailer's name field, 20 bytes, 16 in PCAPdroid's first layout, or the mapping block's app name); with PKTAP, the process's command name (the effective one, pth_ecomm, when a daemon worked for an app, else pth_comm; Wireshark's pktap.ecmdname, pktap.cmdname); in Apple's pcapng, the name of the packet's Darwin process event block (the effective process's when the packet names one)." },
  { name: 'device_app_pid', type: 'int', unit: '', identifier: true, description: "The process id of device_app_name in an Apple PKTAP capture (pth_epid or pth_pid, as device_app_name) or Apple pcapng (the process block's id); empty for other captures." },
];

function fromPacket(p: DecodedPacket): DeviceState | null {
  if (p.deviceUid !== NO_UID) return { uid: p.deviceUid, name: p.deviceNameOffset >= 0 ? trailerName(p.data, p.deviceNameOffset, p.deviceNameBytes) : null, pid: null, apps: p.deviceApps };
  if (p.deviceProcess >= 0) {
    const proc = p.deviceProcesses[p.deviceProcess];
    return proc === undefined ? null : { uid: null, name: proc.name, pid: proc.pid, apps: p.deviceApps };
  }
  if (p.pktapOffset < 0) return null;
  const proc = pktapProcess(p.pktapData, p.pktapOffset);
  return proc === undefined ? null : { uid: null, name: proc.name, pid: proc.pid, apps: p.deviceApps };
}

export const deviceAppPlugin: FlowPlugin<DeviceState | null> = {
  name: 'device',
  flowBytes: 60,
  columns: DEVICE_COLUMNS,
  init(_flow: Flow, p: DecodedPacket): DeviceState | null {
    return fromPacket(p);
  },
  // Nothing to follow after the first packet.
  update(): boolean {
    return true;
  },
  write(s: DeviceState | null, _flow: Flow, row: CellValue[], at: number): void {
    if (s === null) {
      row[at] = null;
      row[at + 1] = null;
      row[at + 2] = null;
      row[at + 3] = null;
      return;
    }
    const mapped = s.uid === null ? undefined : s.apps.get(s.uid);
    row[at] = s.uid;
    row[at + 1] = mapped?.packageName ?? null;
    row[at + 2] = s.name ?? mapped?.appName ?? null;
    row[at + 3] = s.pid;
  },
};
