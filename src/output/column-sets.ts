import type { CellValue, ColumnDef } from '../flow/schema.js';

/**
 * Named column sets: the records under another flow meter's column names and units (`--columns nfstream`,
 * `--columns cicflowmeter`), so notebooks and models written against that meter's output read ours. Each column
 * says which of our columns it comes from and how; docs/column-sets.md is generated from these definitions.
 *
 * What is kept from the meter is its names and units. What is not copied are its defects
 * (../shared/reference/flow-meters.md): times are exact fractions of ms / µs, not truncated integers; a statistic
 * of too few values, a rate of a zero-length flow and a ratio over zero are null, not 0, Infinity or NaN; the
 * Down/Up ratio is a fraction, not an integer division; "Bwd Init Win Bytes" is the SYN+ACK's window, not the last
 * packet's; the forward direction is the connection's initiator (a SYN without ACK first), not the first packet's
 * sender. Columns we do not measure (MAC addresses, bulk, subflow, active/idle periods, header lengths) are left
 * out rather than filled with stand-ins.
 */
export interface SetColumn extends ColumnDef {
  /** Our columns it is computed from (all must be in the records; `optional` ones may be missing: then null). */
  from: readonly string[];
  optional?: boolean;
  /** How, in words, for docs/column-sets.md. */
  how: string;
  compute(v: readonly CellValue[]): CellValue;
}

export interface ColumnSet {
  name: string;
  title: string;
  /** The --length accounting mode the meter's sizes are in, used unless --length is given. */
  lengthMode: 'frame' | 'ip' | 'transport' | 'payload';
  notes: string;
  columns: readonly SetColumn[];
}

const num = (v: CellValue): number | null => (v === null || v === undefined ? null : typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : null);
const scale = (k: number) => (v: readonly CellValue[]): CellValue => {
  const x = num(v[0]);
  return x === null ? null : x / k;
};
const same = (v: readonly CellValue[]): CellValue => v[0] ?? null;
const sum = (v: readonly CellValue[]): CellValue => {
  const a = num(v[0]);
  const b = num(v[1]);
  return a === null || b === null ? null : a + b;
};
/** x / (duration in s); null for a flow of zero duration (CICFlowMeter writes Infinity or NaN there). */
const perSecond = (v: readonly CellValue[]): CellValue => {
  const x = num(v[0]);
  const d = num(v[1]);
  return x === null || d === null || d <= 0 ? null : x / (d / 1e9);
};
const ratio = (v: readonly CellValue[]): CellValue => {
  const a = num(v[0]);
  const b = num(v[1]);
  return a === null || b === null || b === 0 ? null : a / b;
};

function col(name: string, type: ColumnDef['type'], unit: string, from: string[], how: string, compute: SetColumn['compute'], description = how, optional = false): SetColumn {
  return { name, type, unit, from, how, compute, description, optional };
}

/** The two sockets and the protocol under a meter's five names (its source = our client, the initiator). */
function endpoints(names: readonly [string, string, string, string, string]): SetColumn[] {
  const ours = ['client_addr', 'client_port', 'server_addr', 'server_port', 'protocol'];
  return names.map((n, i) => col(n, i % 2 === 0 && i < 4 ? 'string' : 'int', '', [ours[i]], i === 0 ? 'client_addr (the initiator)' : ours[i], same));
}

// ---------------------------------------------------------------------------------------------------------------
// nfstream 6.x NFlow (docs/api.md of nfstream.github.io: core, L7 visibility, statistical_analysis, splt_analysis).

/** nfstream's tunnel_id codes, by the outermost tunnel's name. */
const NF_TUNNEL: Record<string, number> = { 'gtp-u': 1, capwap: 2, tzsp: 3 };
const EXPIRATION: Record<string, number> = { idle: 0, 'end-of-input': 0, active: 1 };
const NF_DIRS: ReadonlyArray<[string, string]> = [
  ['bidirectional', ''],
  ['src2dst', 'fwd_'],
  ['dst2src', 'bwd_'],
];

function nfstreamColumns(): SetColumn[] {
  const out: SetColumn[] = [
    col('id', 'int', '', ['flow_id'], 'flow_id', same),
    col('expiration_id', 'int', '', ['expiry_reason'], '0 idle timeout (and the end of the capture), 1 active timeout, -1 any other end (TCP FIN/RST, burst gap, eviction), as nfstream marks an expiry a plugin forced', (v) => EXPIRATION[v[0] as string] ?? -1),
    ...endpoints(['src_ip', 'src_port', 'dst_ip', 'dst_port', 'protocol']),
    col('ip_version', 'int', '', ['ip_version'], 'ip_version', same),
    col('vlan_id', 'int', '', ['vlan'], 'vlan (null when untagged)', same),
    col('tunnel_id', 'int', '', ['tunnel'], 'from tunnel, its outermost: 0 for none, 1 GTP-U, 2 CAPWAP, 3 TZSP (nfstream\'s codes); null for the tunnels nfstream does not decode (it meters those between the tunnel end points)', (v) => (v[0] === null ? 0 : typeof v[0] === 'string' ? (NF_TUNNEL[v[0].split('/')[0]] ?? null) : null)),
    col('bidirectional_first_seen_ms', 'float', 'ms', ['first_seen_ns'], 'first_seen_ns / 1e6 (exact, not truncated to whole ms)', scale(1e6)),
    col('bidirectional_last_seen_ms', 'float', 'ms', ['last_seen_ns'], 'last_seen_ns / 1e6', scale(1e6)),
    col('bidirectional_duration_ms', 'float', 'ms', ['duration_ns'], 'duration_ns / 1e6', scale(1e6)),
    col('bidirectional_packets', 'int', 'packets', ['packets'], 'packets', same),
    col('bidirectional_bytes', 'int', 'bytes', ['bytes'], 'bytes (in the --length mode; frame by default with this set, as accounting_mode=0)', same),
    col('src2dst_packets', 'int', 'packets', ['fwd_packets'], 'fwd_packets', same),
    col('src2dst_bytes', 'int', 'bytes', ['fwd_bytes'], 'fwd_bytes', same),
    col('dst2src_packets', 'int', 'packets', ['bwd_packets'], 'bwd_packets', same),
    col('dst2src_bytes', 'int', 'bytes', ['bwd_bytes'], 'bwd_bytes', same),
    col('application_name', 'string', '', ['app'], 'app (the host rules\' app; with --apps)', same, undefined, true),
    col('requested_server_name', 'string', '', ['tls_sni', 'dns_host'], 'tls_sni, else dns_host (as nDPI fills it from TLS and DNS)', (v) => v[0] ?? v[1] ?? null),
    col('client_fingerprint', 'string', '', ['ja3_hash'], 'ja3_hash (JA3 of the ClientHello)', same),
    col('server_fingerprint', 'string', '', ['ja3s_hash'], 'ja3s_hash (JA3S of the ServerHello)', same),
  ];
  for (const [nf, our] of NF_DIRS) {
    out.push(
      col(`${nf}_min_ps`, 'int', 'bytes', [`${our}pkt_len_min_bytes`], `${our}pkt_len_min_bytes`, same),
      col(`${nf}_mean_ps`, 'float', 'bytes', [`${our}pkt_len_mean_bytes`], `${our}pkt_len_mean_bytes`, same),
      col(`${nf}_stddev_ps`, 'float', 'bytes', [`${our}pkt_len_sd_bytes`], `${our}pkt_len_sd_bytes (sample SD; null below two packets, where nfstream writes 0)`, same),
      col(`${nf}_max_ps`, 'int', 'bytes', [`${our}pkt_len_max_bytes`], `${our}pkt_len_max_bytes`, same),
    );
  }
  for (const [nf, our] of NF_DIRS) {
    out.push(
      col(`${nf}_min_piat_ms`, 'float', 'ms', [`${our}iat_min_ns`], `${our}iat_min_ns / 1e6`, scale(1e6)),
      col(`${nf}_mean_piat_ms`, 'float', 'ms', [`${our}iat_mean_ns`], `${our}iat_mean_ns / 1e6`, scale(1e6)),
      col(`${nf}_stddev_piat_ms`, 'float', 'ms', [`${our}iat_sd_ns`], `${our}iat_sd_ns / 1e6`, scale(1e6)),
      col(`${nf}_max_piat_ms`, 'float', 'ms', [`${our}iat_max_ns`], `${our}iat_max_ns / 1e6`, scale(1e6)),
    );
  }
  const flags = ['syn', 'cwr', 'ece', 'urg', 'ack', 'psh', 'rst', 'fin'];
  for (const flag of flags) out.push(col(`bidirectional_${flag}_packets`, 'int', 'packets', [`fwd_${flag}_count`, `bwd_${flag}_count`], `fwd_${flag}_count + bwd_${flag}_count (null for flows that are not TCP)`, sum));
  for (const [nf, our] of NF_DIRS.slice(1)) for (const flag of flags) out.push(col(`${nf}_${flag}_packets`, 'int', 'packets', [`${our}${flag}_count`], `${our}${flag}_count`, same));
  out.push(
    col('splt_direction', 'int[]', '', ['splt_signed_len_bytes'], 'the sign of each splt_signed_len_bytes entry: 0 client to server, 1 back (as long as the packets seen, no -1 padding)', (v) => (v[0] === null ? null : Array.from(v[0] as ArrayLike<number>, (x) => (x < 0 ? 1 : 0)))),
    col('splt_ps', 'int[]', 'bytes', ['splt_signed_len_bytes'], '|splt_signed_len_bytes| (no -1 padding)', (v) => (v[0] === null ? null : Array.from(v[0] as ArrayLike<number>, Math.abs))),
    col('splt_piat_ms', 'float[]', 'ms', ['splt_iat_ns'], 'splt_iat_ns / 1e6 (0 for the first packet; no -1 padding)', (v) => (v[0] === null ? null : Array.from(v[0] as ArrayLike<number>, (x) => x / 1e6))),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// CICFlowMeter 4 (FlowFeature.java of ahlashkari/CICFlowMeter: the CSV header, in its order).

const CIC_DIRS: ReadonlyArray<[string, string, string]> = [
  ['Fwd', 'fwd_', 'fwd_packets'],
  ['Bwd', 'bwd_', 'bwd_packets'],
];

function cicColumns(): SetColumn[] {
  const us = scale(1e3);
  const out: SetColumn[] = [
    col('Flow ID', 'string', '', ['client_addr', 'server_addr', 'client_port', 'server_port', 'protocol'], 'client-server-client port-server port-protocol, as CICFlowMeter joins them (with the initiator first, not the larger address)', (v) => v.map((x) => (x === null ? '' : String(x))).join('-')),
    ...endpoints(['Src IP', 'Src Port', 'Dst IP', 'Dst Port', 'Protocol']),
    col('Timestamp', 'timestamp', 'UTC', ['first_seen_ns'], 'first_seen_ns as a UTC timestamp (CICFlowMeter prints the local time to the second)', same),
    col('Flow Duration', 'float', 'µs', ['duration_ns'], 'duration_ns / 1e3', us),
  ];
  out.push(
    col('Total Fwd Packet', 'int', 'packets', ['fwd_packets'], 'fwd_packets', same),
    col('Total Bwd packets', 'int', 'packets', ['bwd_packets'], 'bwd_packets', same),
    col('Total Length of Fwd Packet', 'int', 'bytes', ['fwd_bytes'], 'fwd_bytes (payload bytes by default with this set, as CICFlowMeter counts)', same),
    col('Total Length of Bwd Packet', 'int', 'bytes', ['bwd_bytes'], 'bwd_bytes', same),
  );
  for (const [cic, our] of CIC_DIRS) {
    out.push(
      col(`${cic} Packet Length Max`, 'int', 'bytes', [`${our}pkt_len_max_bytes`], `${our}pkt_len_max_bytes`, same),
      col(`${cic} Packet Length Min`, 'int', 'bytes', [`${our}pkt_len_min_bytes`], `${our}pkt_len_min_bytes`, same),
      col(`${cic} Packet Length Mean`, 'float', 'bytes', [`${our}pkt_len_mean_bytes`], `${our}pkt_len_mean_bytes`, same),
      col(`${cic} Packet Length Std`, 'float', 'bytes', [`${our}pkt_len_sd_bytes`], `${our}pkt_len_sd_bytes (sample SD)`, same),
    );
  }
  out.push(
    col('Flow Bytes/s', 'float', 'bytes/s', ['bytes', 'duration_ns'], 'bytes / duration in s; null for a zero duration', perSecond),
    col('Flow Packets/s', 'float', 'packets/s', ['packets', 'duration_ns'], 'packets / duration in s; null for a zero duration', perSecond),
    col('Flow IAT Mean', 'float', 'µs', ['iat_mean_ns'], 'iat_mean_ns / 1e3', us),
    col('Flow IAT Std', 'float', 'µs', ['iat_sd_ns'], 'iat_sd_ns / 1e3', us),
    col('Flow IAT Max', 'float', 'µs', ['iat_max_ns'], 'iat_max_ns / 1e3', us),
    col('Flow IAT Min', 'float', 'µs', ['iat_min_ns'], 'iat_min_ns / 1e3', us),
  );
  for (const [cic, our, packets] of CIC_DIRS) {
    out.push(
      col(`${cic} IAT Total`, 'float', 'µs', [`${our}iat_mean_ns`, packets], `${our}iat_mean_ns x (${packets} - 1) / 1e3: the span from the direction's first packet to its last`, (v) => {
        const m = num(v[0]);
        const n = num(v[1]);
        return m === null || n === null ? null : (m * (n - 1)) / 1e3;
      }),
      col(`${cic} IAT Mean`, 'float', 'µs', [`${our}iat_mean_ns`], `${our}iat_mean_ns / 1e3`, us),
      col(`${cic} IAT Std`, 'float', 'µs', [`${our}iat_sd_ns`], `${our}iat_sd_ns / 1e3`, us),
      col(`${cic} IAT Max`, 'float', 'µs', [`${our}iat_max_ns`], `${our}iat_max_ns / 1e3`, us),
      col(`${cic} IAT Min`, 'float', 'µs', [`${our}iat_min_ns`], `${our}iat_min_ns / 1e3`, us),
    );
  }
  out.push(
    col('Fwd PSH Flags', 'int', 'packets', ['fwd_psh_count'], 'fwd_psh_count', same),
    col('Bwd PSH Flags', 'int', 'packets', ['bwd_psh_count'], 'bwd_psh_count', same),
    col('Fwd URG Flags', 'int', 'packets', ['fwd_urg_count'], 'fwd_urg_count', same),
    col('Bwd URG Flags', 'int', 'packets', ['bwd_urg_count'], 'bwd_urg_count', same),
    col('Fwd Packets/s', 'float', 'packets/s', ['fwd_packets', 'duration_ns'], 'fwd_packets / duration in s; null for a zero duration', perSecond),
    col('Bwd Packets/s', 'float', 'packets/s', ['bwd_packets', 'duration_ns'], 'bwd_packets / duration in s; null for a zero duration', perSecond),
    col('Packet Length Min', 'int', 'bytes', ['pkt_len_min_bytes'], 'pkt_len_min_bytes', same),
    col('Packet Length Max', 'int', 'bytes', ['pkt_len_max_bytes'], 'pkt_len_max_bytes', same),
    col('Packet Length Mean', 'float', 'bytes', ['pkt_len_mean_bytes'], 'pkt_len_mean_bytes (each packet once: CICFlowMeter counts the first twice)', same),
    col('Packet Length Std', 'float', 'bytes', ['pkt_len_sd_bytes'], 'pkt_len_sd_bytes', same),
    col('Packet Length Variance', 'float', 'bytes²', ['pkt_len_sd_bytes'], 'pkt_len_sd_bytes squared (sample variance)', (v) => {
      const s = num(v[0]);
      return s === null ? null : s * s;
    }),
  );
  for (const flag of ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'CWR', 'ECE']) {
    const f = flag.toLowerCase();
    out.push(col(`${flag} Flag Count`, 'int', 'packets', [`fwd_${f}_count`, `bwd_${f}_count`], `fwd_${f}_count + bwd_${f}_count`, sum));
  }
  out.push(
    col('Down/Up Ratio', 'float', '', ['bwd_packets', 'fwd_packets'], 'bwd_packets / fwd_packets as a fraction (CICFlowMeter divides integers); null without forward packets', ratio),
    col('Average Packet Size', 'float', 'bytes', ['bytes', 'packets'], 'bytes / packets', ratio),
    col('Fwd Segment Size Avg', 'float', 'bytes', ['fwd_pkt_len_mean_bytes'], 'fwd_pkt_len_mean_bytes', same),
    col('Bwd Segment Size Avg', 'float', 'bytes', ['bwd_pkt_len_mean_bytes'], 'bwd_pkt_len_mean_bytes', same),
    col('FWD Init Win Bytes', 'int', 'bytes', ['client_tcp_init_window_bytes'], 'client_tcp_init_window_bytes (the SYN\'s window)', same),
    col('Bwd Init Win Bytes', 'int', 'bytes', ['server_tcp_init_window_bytes'], 'server_tcp_init_window_bytes (the SYN+ACK\'s window, not the last packet\'s)', same),
    col('Label', 'string', '', ['label_action'], 'label_action (label output), else null', same, undefined, true),
  );
  return out;
}

export const COLUMN_SETS: Readonly<Record<string, ColumnSet>> = {
  nfstream: {
    name: 'nfstream',
    title: 'nfstream (NFStreamer with statistical_analysis=True, splt_analysis=N)',
    lengthMode: 'frame',
    notes: 'Not written: src_mac, src_oui, dst_mac, dst_oui, the per-direction first_seen / last_seen / duration, application_category_name, application_is_guessed, application_confidence, user_agent, content_type.',
    columns: nfstreamColumns(),
  },
  cicflowmeter: {
    name: 'cicflowmeter',
    title: 'CICFlowMeter 4 (the CSV of `cfm`)',
    lengthMode: 'payload',
    notes: 'Not written: Fwd/Bwd Header Length, the bulk columns, the Subflow columns, Fwd Act Data Pkts, Fwd Seg Size Min, Active and Idle Mean/Std/Max/Min.',
    columns: cicColumns(),
  },
};

/** A named set over a record layout: its columns, and a projection of each full row (into a reused array). */
export function columnSet(set: ColumnSet, all: readonly ColumnDef[]): { columns: ColumnDef[]; project(row: readonly CellValue[]): CellValue[] } {
  const index = new Map(all.map((c, i) => [c.name, i]));
  const sources = set.columns.map((c) =>
    c.from.map((f) => {
      const i = index.get(f);
      if (i === undefined && !c.optional) throw new Error(`--columns ${set.name}: "${c.name}" needs the column ${f}, which these records do not have (a --features group left out?)`);
      return i ?? -1;
    }),
  );
  const out: CellValue[] = new Array(set.columns.length);
  const args: CellValue[][] = sources.map((s) => new Array(s.length));
  return {
    columns: set.columns.map(({ name, type, unit, description }) => ({ name, type, unit, description })),
    project(row) {
      for (let k = 0; k < sources.length; k++) {
        const s = sources[k];
        const a = args[k];
        let missing = false;
        for (let j = 0; j < s.length; j++) {
          if (s[j] < 0) missing = true;
          a[j] = s[j] < 0 ? null : row[s[j]];
        }
        out[k] = missing ? null : set.columns[k].compute(a);
      }
      return out;
    },
  };
}

/** docs/column-sets.md: each set's columns, units and where they come from. */
export function columnSetsMarkdown(): string {
  const lines = ['# Column sets', '', 'Generated by `cipherscope schema --column-sets` from src/output/column-sets.ts; do not edit by hand.', '', '`flows --columns nfstream` and `flows --columns cicflowmeter` write the records under that meter\'s names and units. Sizes are in the meter\'s accounting (frame length for nfstream, payload for CICFlowMeter) unless `--length` says otherwise. Absent values are null, as in every cipherscope column (schema.md); the meters\' known defects are not copied.', ''];
  for (const s of Object.values(COLUMN_SETS)) {
    lines.push(`## ${s.name}: ${s.title}`, '', `Sizes: \`--length ${s.lengthMode}\` by default. ${s.notes}`, '', '| column | type | unit | from |', '|---|---|---|---|');
    for (const c of s.columns) lines.push(`| \`${c.name}\` | ${c.type} | ${c.unit || '-'} | ${c.how.replace(/\|/g, '\\|')} |`);
    lines.push('');
  }
  return lines.join('\n');
}
