/** Library entry point: every stage usable on its own. */
export * from './pcap/types.js';
export { readCapture, CaptureFormatError, type ReadOptions, type ReadResult } from './pcap/reader.js';
export { PcapWriter, PcapngWriter, openCaptureWriter, type CaptureWriter } from './pcap/writer.js';
export { Decoder, type DecoderOptions } from './decode/decoder.js';
export { DecodedPacket, IPPROTO, TcpFlag, parseTcpOptions, type PacketKind } from './decode/packet.js';
export { FragmentReassembler, DEFAULT_REASSEMBLY_LIMITS } from './decode/fragments.js';
export { PacketFilter, DEFAULT_FILTER, parseHostRule, type FilterOptions } from './filter/filter.js';
export { Flow, LENGTH_MODES, packetLength, type FlowPlugin, type LengthMode, type Direction, type ExpiryReason } from './flow/flow.js';
export { FlowTable, DEFAULT_FLOW_OPTIONS, type FlowTableOptions, type FlowSink, type RecordKind } from './flow/table.js';
export { CORE_COLUMNS } from './flow/record.js';
export { schemaMarkdown, type ColumnDef, type CellValue, type ColumnType } from './flow/schema.js';
export { RunningStats } from './features/running-stats.js';
export { packetStatsPlugin } from './features/packet-stats.js';
export { tcpStatsPlugin } from './features/tcp-stats.js';
export { extractFlows, flowColumns, DEFAULT_PLUGINS, type ExtractOptions, type ExtractSummary } from './features/extract.js';
export { openRecordWriter, CsvWriter, JsonlWriter, ParquetWriter, type OutputFormat, type RecordWriter } from './output/writers.js';
export { addrText, parseAddr } from './common/addr.js';
