import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { TOOL_VERSION } from '../common/version.js';
import { Decoder } from '../decode/decoder.js';
import { DEFAULT_REASSEMBLY_LIMITS } from '../decode/fragments.js';
import { DEFAULT_FLOW_OPTIONS } from '../flow/table.js';
import { DEFAULT_BYTE_DIST_BYTES, DEFAULT_SPLT_PACKETS } from '../features/sequence.js';
import { DEFAULT_FILTER, PacketFilter } from '../filter/filter.js';
import { AppMatcher } from '../features/apps.js';
import { extractFlowsSharded } from '../meter/sharded.js';
import { type ExtractSummary, addressLearning, extractFlows, flowColumns } from '../meter/meter.js';
import { ALL_GROUPS, FEATURE_GROUPS, OPTIONAL_GROUPS, flowPlugins } from '../features/plugins.js';
import { LENGTH_MODES, type LengthMode } from '../flow/flow.js';
import { type CellValue, schemaMarkdown } from '../flow/schema.js';
import { type ColumnPick, pickColumns } from '../output/columns.js';
import { COLUMN_SETS, columnSetsMarkdown } from '../output/column-sets.js';
import { inputName, readCapture, rereadable } from '../pcap/reader.js';
import { type CaptureIssue, formatIssue } from '../pcap/types.js';
import { openCaptureWriter } from '../pcap/writer.js';
import { type OutputFormat, formatFromPath, openRecordWriter, recordFormat, recordFormats } from '../output/writers.js';
import type { AppFlows } from '../pipeline/app-flows.js';
import { BPF_HELP, COLUMNS_HELP, CSV_RAW_HELP, NO_IP_LISTS_HELP, appRules, captureFilter, collect, count, threadCount, COUNT_HELP, expandDirectories, featureGroups, inputsOf, mebibytes, packetCount, seconds } from './args.js';
import { recordFilter } from '../filter/bpf.js';
import { DEFAULT_MEMORY_MB } from '../common/memory-budget.js';
import { Progress } from './progress.js';

const MAX_ISSUES_SHOWN = 20;

type AddCommands = (program: Command) => void;

/**
 * The commands kept in modules of their own, in the order help lists them, each with the top-level names it
 * registers. A run loads only the module of the command it runs: the models, the profile store, the testbed and
 * the server are half of what `cipherscope` would otherwise load (about 30 ms of a 120 ms start-up on this
 * machine), and a study meters many small captures. Help, and a name no module has, load them all.
 */
const COMMAND_MODULES: ReadonlyArray<{ names: readonly string[]; before: 'schema' | 'end'; load: () => Promise<AddCommands> }> = [
  { names: ['label'], before: 'schema', load: async () => (await import('./label-command.js')).addLabelCommand },
  { names: ['testbed'], before: 'schema', load: async () => (await import('./testbed-command.js')).addTestbedCommand },
  { names: ['evaluate', 'train', 'classify'], before: 'schema', load: async () => (await import('./model-commands.js')).addModelCommands },
  { names: ['profile'], before: 'schema', load: async () => (await import('./profile-command.js')).addProfileCommands },
  { names: ['capture'], before: 'schema', load: async () => (await import('./capture-command.js')).addCaptureCommand },
  { names: ['live'], before: 'schema', load: async () => (await import('./live-command.js')).addLiveCommand },
  { names: ['publish', 'worker'], before: 'schema', load: async () => (await import('./worker-command.js')).addWorkerCommands },
  { names: ['serve', 'report'], before: 'schema', load: async () => (await import('./serve-command.js')).addServeCommands },
  { names: ['ip-lists'], before: 'schema', load: async () => (await import('./ip-lists-command.js')).addIpListsCommands },
  { names: ['info'], before: 'end', load: async () => (await import('./info-command.js')).addInfoCommand },
];
const BUILT_IN_COMMANDS = ['flows', 'filter', 'schema'];

/**
 * The command `argv` runs (the first word after the global options), or undefined when it names none of ours
 * (help, the version, a typo): then every command is registered, so help lists them and a typo gets a suggestion.
 */
export function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--plugin') i++;
    else if (a.startsWith('--plugin=')) continue;
    else if (a.startsWith('-')) return undefined;
    else return BUILT_IN_COMMANDS.includes(a) || COMMAND_MODULES.some((m) => m.names.includes(a)) ? a : undefined;
  }
  return undefined;
}

/** Prints issues to stderr, at most MAX_ISSUES_SHOWN per input, and counts the rest. */
class IssuePrinter {
  shown = 0;
  hidden = 0;
  total = 0;
  constructor(private readonly quiet: boolean) {}
  onIssue = (i: CaptureIssue): void => {
    this.total++;
    if (this.quiet) return;
    if (this.shown < MAX_ISSUES_SHOWN) {
      this.shown++;
      process.stderr.write(`cipherscope: ${formatIssue(i)}\n`);
    } else this.hidden++;
  };
  /** An issue past what is shown, only counted. */
  count = (_i: CaptureIssue): void => {
    this.total++;
    if (!this.quiet) this.hidden++;
  };
  end(file: string): void {
    if (this.hidden > 0) process.stderr.write(`cipherscope: ${file}: ${this.hidden} more issue(s) not shown\n`);
    this.shown = 0;
    this.hidden = 0;
  }
}

function summaryLine(s: ExtractSummary): string {
  const dropped = Object.entries(s.dropped)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const pps = s.elapsedSec > 0 ? Math.round(s.packets / s.elapsedSec) : 0;
  const mbs = s.elapsedSec > 0 ? (s.bytesRead / 1e6 / s.elapsedSec).toFixed(1) : '0';
  const protos = Object.entries(s.protocols)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return (
    `${s.capture}: ${s.packets} packets, ${s.metered} metered (${protos || 'none'}), ${s.flows} flows (${s.records} records), ` +
    `dropped: ${dropped || 'none'}; ${s.outOfOrder} out of order; ${s.errors} errors, ${s.warnings} warnings${s.evicted > 0 ? `; ${s.evicted} flows evicted for memory (--memory, --max-flows), ${s.continued} of them continued` : ''}${s.skippedBytes > 0 ? ` (${s.skippedBytes} corrupt bytes skipped)` : ''}; ` +
    `${s.elapsedSec.toFixed(3)} s, ${pps} packets/s, ${mbs} MB/s` +
    (s.appEvidence ? `; ${appsLine(s.appEvidence)}` : '')
  );
}

/** Flows by what named their app, first-hand apart from second-hand. */
function appsLine(byEvidence: Record<string, number>): string {
  const part = (keys: string[]) =>
    keys
      .filter((k) => byEvidence[k] !== undefined)
      .map((k) => `${k}=${byEvidence[k]}`)
      .join(' ') || 'none';
  return `apps named first-hand: ${part(['pcapdroid', 'pktap', 'sni', 'dns', 'cert', 'previous-segment'])}; second-hand: ${part(['addr', 'ip-list'])}; no app: ${byEvidence.none ?? 0}`;
}

/** The program with every command, or with only `command`'s (see COMMAND_MODULES). */
export async function buildProgram(command?: string): Promise<Command> {
  const wanted = (name: string) => command === undefined || command === name;
  const modules = async (before: 'schema' | 'end') => {
    for (const m of COMMAND_MODULES) if (m.before === before && (command === undefined || m.names.includes(command))) (await m.load())(program);
  };
  const program = new Command();
  program
    .name('cipherscope')
    .description('Read what encrypted smartphone traffic gives away without decrypting it: flows, features, apps, actions.')
    .version(TOOL_VERSION)
    .option('--plugin <module>', 'load a module that registers feature plugins, record formats or model kinds of your own (repeatable; see docs/architecture.md)');

  if (wanted('flows')) program
    .command('flows')
    .description('One record per bidirectional flow: direction-based statistics, TLS/QUIC, DNS, sequences, byte distribution, app (schema: `cipherscope schema`).')
    .argument('[inputs...]', 'pcap or pcapng files (also gzip, zstd or xz compressed), directories of them (read recursively, in sorted order); - for standard input')
    .option('-r, --read <file>', 'a capture to read, as tshark -r (repeatable; besides the arguments)', collect, [])
    .option('-f, --bpf <expr>', BPF_HELP, captureFilter)
    .option('-c, --count <packets>', `${COUNT_HELP} (in each capture, given several)`, packetCount)
    .option('-o, --output <file>', 'output file; - for standard output', '-')
    .option('--columns <names>', COLUMNS_HELP)
    .addOption(new Option('--format <format>', 'output format (default: from the output file extension, else csv)').choices(recordFormats().map((f) => f.name)))
    .option('--idle-timeout <seconds>', 'end a flow after this much silence', seconds, DEFAULT_FLOW_OPTIONS.idleTimeoutSec)
    .option('--active-timeout <seconds>', 'split a flow older than this (same flow_id, next segment)', seconds, DEFAULT_FLOW_OPTIONS.activeTimeoutSec)
    .option('--burst-gap <seconds>', 'split a flow at a silence this long (same flow_id, next segment; 0 = off): one record per burst of a long-lived connection', seconds, DEFAULT_FLOW_OPTIONS.burstGapSec)
    .option('--tcp-close-grace <seconds>', 'keep a TCP flow open this long after FIN both ways or RST, for the last ACKs', seconds, DEFAULT_FLOW_OPTIONS.tcpCloseGraceSec)
    .option('--status-interval <seconds>', 'also emit interim "status" records of live flows this often (0 = off)', seconds, DEFAULT_FLOW_OPTIONS.statusIntervalSec)
    .addOption(new Option('--length <mode>', `what a packet's length counts: ${Object.entries(LENGTH_MODES).map(([k, v]) => `${k} = ${v}`).join('; ')}`).choices(Object.keys(LENGTH_MODES)).default(DEFAULT_FLOW_OPTIONS.lengthMode))
    .option('--no-vlan-key', 'ignore VLAN ids when keying flows')
    .option('--no-tunnels', 'meter tunnel packets (GTP-U, VXLAN, Geneve, GRE, ERSPAN, IP in IP, TZSP, CAPWAP) between the tunnel end points instead of the packets inside them')
    .option('--filter-noise', 'drop LAN chatter first (SSDP, mDNS, LLMNR, NetBIOS, DHCP), as `cipherscope filter` does')
    .option('--exclude-host <addr>', 'drop packets to or from this address or prefix (repeatable)', collect, [])
    .option('--only-host <addr>', 'keep only packets to or from this address or prefix (repeatable)', collect, [])
    .option('--fragment-timeout <seconds>', 'give up reassembling an IP datagram after this long', seconds, DEFAULT_REASSEMBLY_LIMITS.timeoutSec)
    .option('--features <groups>', `feature groups besides the packet statistics, comma-separated: ${FEATURE_GROUPS.join(', ')} (the default); on request ${OPTIONAL_GROUPS.join(', ')} (the statistics after the handshake; the paper's LSTM input); "all"; "none" for statistics only`, featureGroups, [...FEATURE_GROUPS])
    .option('--splt <packets>', 'packets in the sequence columns (splt_*)', count, DEFAULT_SPLT_PACKETS)
    .option('--byte-dist-bytes <bytes>', 'payload bytes per direction counted in the byte distribution (Joy counts 4000)', count, DEFAULT_BYTE_DIST_BYTES)
    .option('--apps [rules.json]', 'add app, app_evidence, app_host and app_evidence_gap_ns from host rules (default: the shipped rules/apps.json, with its IP lists)')
    .option('--no-ip-lists', NO_IP_LISTS_HELP)
    .option('--threads <n>', 'threads to meter on: given several files (CSV or JSON Lines output), up to N whole captures at once, one a thread, written in input order as one thread writes them; given one, N shards of it, this thread and N-1 worker threads, packets sharded by a symmetric hash of their addresses (records then come out in the order shards finish them; flow ids stay unique)', threadCount, 1)
    .option('--memory <MiB>', `memory budget of the flow table, stream and fragment buffers and the DNS name map (estimated; "none" for no bound); when full, the longest-idle flows are written early (expiry_reason evicted), counted, and a later packet continues them as the next segment`, mebibytes, DEFAULT_MEMORY_MB)
    .option('--max-flows <n>', 'also bound the flows held at once (evicted as when the memory budget is reached)', count)
    .option('--strict', 'exit with status 2 if an input had any warning or error, or packets in no record (corrupt bytes skipped, fragments never reassembled)')
    .option('--csv-raw', CSV_RAW_HELP)
    .option('--no-progress', 'no progress bar (it only shows on a terminal anyway)')
    .option('-q, --quiet', 'no summary and no per-issue messages on stderr')
    .action(async (args: string[], o, cmd: Command) => {
      let inputs: string[];
      // A named column set measures sizes as its meter does, unless --length says otherwise.
      const set = o.columns === undefined ? undefined : COLUMN_SETS[(o.columns as string).trim()];
      if (set !== undefined && cmd.getOptionValueSource('length') === 'default') o.length = set.lengthMode;
      try {
        inputs = expandDirectories(inputsOf(args, o.read));
      } catch (e) {
        process.stderr.write(`cipherscope: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const format: OutputFormat = o.format ?? formatFromPath(o.output);
      const apps = o.apps === undefined ? undefined : new AppMatcher(appRules(o.apps, o.ipLists));
      const all = flowColumns(flowPlugins({ groups: o.features, spltPackets: o.splt, byteDistBytes: o.byteDistBytes }), apps !== undefined);
      let pick: ColumnPick | undefined;
      try {
        pick = o.columns === undefined ? undefined : pickColumns(all, o.columns);
      } catch (e) {
        process.stderr.write(`cipherscope: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const columns = pick?.columns ?? all;
      const writer = openRecordWriter(format, o.output, columns, { rawStrings: o.csvRaw === true });
      // Text formats are encoded by the shards themselves; the main thread then only writes bytes (not when only
      // some columns are written: rows come back and are cut here).
      const encodeInShards = pick === undefined && writer.writeEncoded !== undefined && recordFormat(format).encoder !== undefined;
      const write = pick === undefined ? (row: CellValue[]) => writer.write(row) : (row: CellValue[]) => writer.write(pick.project(row));
      const issues = new IssuePrinter(o.quiet === true);
      const useFilter = o.filterNoise === true || o.excludeHost.length > 0 || o.onlyHost.length > 0;
      let bad = 0;
      let read = 0;
      const pluginOptions = { groups: o.features, spltPackets: o.splt, byteDistBytes: o.byteDistBytes };
      const settings = {
        flow: {
          idleTimeoutSec: o.idleTimeout,
          activeTimeoutSec: o.activeTimeout,
          burstGapSec: o.burstGap,
          tcpCloseGraceSec: o.tcpCloseGrace,
          statusIntervalSec: o.statusInterval,
          lengthMode: o.length as LengthMode,
          vlanInKey: o.vlanKey !== false,
          maxFlows: o.maxFlows,
        },
        memoryMiB: o.memory as number,
        bpf: o.bpf as string | undefined,
        maxPackets: o.count as number | undefined,
        filter: useFilter ? { dropNoise: o.filterNoise === true, excludeHosts: o.excludeHost, onlyHosts: o.onlyHost } : undefined,
        decoder: { reassembly: { timeoutSec: o.fragmentTimeout }, tunnels: o.tunnels !== false },
      };
      const finished = (summary: ExtractSummary) => {
        if (!o.quiet) process.stderr.write(`cipherscope: ${summaryLine(summary)}\n`);
        // --strict: any loss counts, not only the reader's issues: corrupt bytes skipped, fragments never reassembled.
        if (summary.errors + summary.warnings > 0 || summary.skippedBytes > 0 || (summary.dropped['fragment-not-reassembled'] ?? 0) > 0) bad++;
        read++;
      };
      // Several files and threads: whole captures at once, one a thread (nothing to route between them); the
      // output is the same as one thread's. A text format is needed (the threads encode), and files, not stdin.
      if (o.threads > 1 && inputs.length > 1 && !inputs.includes('-') && writer.writeEncoded !== undefined && recordFormat(format).encoder !== undefined) {
        const { extractFilesParallel } = await import('../meter/parallel-files.js');
        const progress = new Progress(`${inputs.length} captures`, o.progress !== false);
        const printers = inputs.map(() => new IssuePrinter(o.quiet === true));
        // Issues print in input order, as one thread prints them: those of a later input wait for its turn (as many
        // as would be shown; the rest are only counted).
        const waiting = inputs.map((): CaptureIssue[] => []);
        let current = 0;
        try {
          await extractFilesParallel(
            inputs,
            o.threads,
            { ...settings, plugins: pluginOptions, apps: apps?.rules, encode: format, encodeSettings: { rawStrings: o.csvRaw === true }, columns: o.columns as string | undefined },
            {
              onEncoded: (b, n) => writer.writeEncoded!(b, n),
              onIssue: (i, issue) => {
                if (i === current) printers[i].onIssue(issue);
                else if (waiting[i].length < MAX_ISSUES_SHOWN) waiting[i].push(issue);
                else printers[i].count(issue);
              },
              onProgress: progress.update,
              onDone: (i, r) => {
                printers[i].end(inputs[i]);
                if ('summary' in r) finished(r.summary);
                else {
                  process.stderr.write(`cipherscope: ${r.error}\n`);
                  process.exitCode = 1;
                }
                current = i + 1;
                if (current < inputs.length) {
                  for (const issue of waiting[current]) printers[current].onIssue(issue);
                  waiting[current] = [];
                }
              },
            },
          );
        } catch (e) {
          process.stderr.write(`cipherscope: ${(e as Error).message}\n`);
          process.exitCode = 1;
        }
        progress.stop();
      } else {
        for (const input of inputs) {
          const progress = new Progress(input, o.progress !== false);
          try {
            const common = { ...settings, onIssue: issues.onIssue, onProgress: progress.update, backlog: () => writer.backlog?.() };
            // With app rules a file is read twice: the first reading learns which app each server address is.
            const learning = await addressLearning(input, apps, common);
            const summary =
              o.threads > 1
                ? await extractFlowsSharded(
                    input,
                    encodeInShards ? { onEncoded: (b, n) => writer.writeEncoded!(b, n) } : { onRow: write },
                    { ...common, threads: o.threads, plugins: pluginOptions, apps: apps?.rules, addresses: learning.addresses?.entries(), learnAddresses: learning.learnAddresses, encode: encodeInShards ? format : undefined, encodeSettings: { rawStrings: o.csvRaw === true } },
                  )
                : await extractFlows(input, write, {
                    ...common,
                    // Fresh plugins per capture: the DNS name map belongs to one capture.
                    plugins: flowPlugins(pluginOptions),
                    apps,
                    ...learning,
                  });
            progress.stop();
            issues.end(input);
            finished(summary);
          } catch (e) {
            progress.stop();
            process.stderr.write(`cipherscope: ${(e as Error).message}\n`);
            process.exitCode = 1;
          }
        }
      }
      // No input read: an existing output stays as it was (not a lone header); else the records of those read.
      if (read === 0 && writer.abort !== undefined) await writer.abort();
      else await writer.close();
      if (o.strict && bad > 0 && !process.exitCode) {
        process.stderr.write(`cipherscope: --strict: ${bad} input(s) had warnings, errors or packets in no record (corrupt bytes, fragments never reassembled)\n`);
        process.exitCode = 2;
      }
    });

  if (wanted('filter')) program
    .command('filter')
    .description('Write a capture without non-IP frames and LAN chatter (SSDP, mDNS, LLMNR, NetBIOS, DHCP), optionally without or only with given hosts; prints what was dropped, by reason.')
    .argument('[input]', 'pcap or pcapng file; - for standard input')
    .option('-r, --read <file>', 'the capture to read, as tshark -r')
    .option('-f, --bpf <expr>', BPF_HELP, captureFilter)
    .option('-c, --count <packets>', 'stop after this many packets read (of those the capture filter passes), as tshark -c and tcpdump -c', packetCount)
    .requiredOption('-o, --output <file>', 'output capture (.pcapng keeps several link types; anything else is classic pcap, nanosecond)')
    .option('--exclude-host <addr>', 'drop packets to or from this address or prefix, e.g. the proxy host (repeatable)', collect, [])
    .option('--only-host <addr>', 'keep only packets to or from this address or prefix (repeatable)', collect, [])
    .option('--keep-noise', 'keep non-IP frames and LAN chatter (only apply the host rules)')
    .option('--app <name>', "keep only the packets of this app's flows: an app of the rules (named by SNI, DNS or certificate), an Android package of a PCAPdroid capture, or a process of an Apple capture (reads the file twice)")
    .option('--apps <rules.json>', 'app rules for --app (default: the shipped rules/apps.json)')
    .option('--no-ip-lists', 'for --app: leave out the IP ownership lists the rules refer to')
    .option('--strict', 'exit with status 2 if the input had any warning or error')
    .option('--no-progress', 'no progress bar')
    .option('-q, --quiet', 'no summary on stderr')
    .action(async (arg: string | undefined, o) => {
      if ((arg === undefined) === (o.read === undefined)) {
        process.stderr.write('cipherscope: filter reads one capture: give it as the argument or as -r FILE\n');
        process.exitCode = 1;
        return;
      }
      const input: string = arg ?? o.read;
      const bpf = o.bpf === undefined ? undefined : recordFilter(o.bpf);
      const filter = new PacketFilter({ ...DEFAULT_FILTER, dropNoise: o.keepNoise !== true, excludeHosts: o.excludeHost, onlyHosts: o.onlyHost });
      let appFlows: AppFlows | undefined;
      if (o.app !== undefined) {
        if (!rereadable(input)) {
          process.stderr.write(`cipherscope: --app reads the capture twice and needs a regular file, not ${input === '-' ? 'standard input' : `${input} (a pipe or device)`}\n`);
          process.exitCode = 1;
          return;
        }
        try {
          const { findAppFlows } = await import('../pipeline/app-flows.js');
          appFlows = await findAppFlows(input, o.app, new AppMatcher(appRules(o.apps, o.ipLists)));
        } catch (e) {
          process.stderr.write(`cipherscope: ${(e as Error).message}\n`);
          process.exitCode = 1;
          return;
        }
      }
      const decoder = new Decoder();
      const limit: number = o.count ?? Infinity;
      let passed = 0;
      const writer = openCaptureWriter(o.output);
      let unkept = 0;
      const issues = new IssuePrinter(o.quiet === true);
      const progress = new Progress(input, o.progress !== false);
      try {
        const r = await readCapture(
          input,
          {
            packet(rec) {
              if (bpf !== undefined && !bpf(rec)) {
                filter.count('capture-filter');
                return false;
              }
              const p = decoder.decode(rec);
              if (filter.verdict(p) === undefined) {
                if (appFlows !== undefined && !appFlows.has(p)) filter.revoke('not-app');
                else {
                  if (!writer.keepsDeviceLabels && (rec.comment !== undefined || rec.deviceProcess >= 0)) unkept++;
                  writer.write(rec);
                }
              }
              return ++passed >= limit;
            },
            issue: issues.onIssue,
            // What the device recorded besides the packets goes along (pcapng), so a filtered capture keeps its labels.
            deviceApp(app) {
              if (writer.deviceApp !== undefined) writer.deviceApp(app);
              else unkept++;
            },
            deviceProcess(proc) {
              if (writer.deviceProcess !== undefined) writer.deviceProcess(proc);
              else unkept++;
            },
            interfaceAdded: (info) => writer.interfaceAdded?.(info),
          },
          { onProgress: progress.update },
        );
        progress.stop();
        issues.end(input);
        await writer.close();
        if (unkept > 0) process.stderr.write(`cipherscope: ${o.output}: warning: classic pcap holds no packet comments or pcapng blocks: ${unkept} of them (PCAPdroid's app labels, Apple's processes, comments) were not kept; write .pcapng to keep them\n`);
        if (!o.quiet) {
          const d = Object.entries(filter.summary())
            .map(([k, v]) => `${k}=${v}`)
            .join(' ');
          process.stderr.write(`cipherscope: ${inputName(input)}: ${r.packets} packets read, ${writer.packets} written, dropped: ${d || 'none'}\n`);
        }
        if (o.strict && issues.total > 0) process.exitCode = 2;
      } catch (e) {
        progress.stop();
        await writer.abort?.();
        process.stderr.write(`cipherscope: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });

  await modules('schema');

  if (wanted('schema')) program
    .command('schema')
    .description('Print the flow record schema: every column with its type, unit and definition (the app columns only with flows --apps; the label columns only from `cipherscope label`).')
    .addOption(new Option('--format <format>', 'output format').choices(['markdown', 'json']).default('markdown'))
    .option('--column-sets', 'print the named column sets (flows --columns nfstream | cicflowmeter) instead: names, units, where each comes from')
    .action(async (o) => {
      if (o.columnSets === true) {
        process.stdout.write(o.format === 'json' ? JSON.stringify(Object.values(COLUMN_SETS).map((s) => ({ ...s, columns: s.columns.map(({ compute: _, ...c }) => c) })), null, 2) + '\n' : columnSetsMarkdown());
        return;
      }
      const { LABEL_COLUMNS } = await import('../label/labeler.js');
      const cols = [...flowColumns(flowPlugins({ groups: ALL_GROUPS }), true), ...LABEL_COLUMNS];
      process.stdout.write(o.format === 'json' ? JSON.stringify(cols, null, 2) + '\n' : schemaMarkdown(cols));
    });

  await modules('end');

  shortUsageErrors(program);
  return program;
}

/**
 * A usage error (an unknown option, a bad value, a missing argument) is one line saying what is wrong, then the
 * command's usage line and where the options are listed, not the whole help text (as git and tshark do).
 */
function shortUsageErrors(cmd: Command, path: string[] = []): void {
  const here = [...path, cmd.name()].join(' ');
  cmd.showHelpAfterError(`Usage: ${here} ${cmd.usage()}\n(${here} --help lists the options)`);
  for (const sub of cmd.commands) shortUsageErrors(sub, [here]);
}

export async function main(argv: string[]): Promise<void> {
  // A closed pipe (`| head`) is a normal end, not a crash.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  await loadPluginModules(argv);
  await (await buildProgram(commandOf(argv))).parseAsync(argv);
}

/**
 * `--plugin MODULE` (any command, repeatable): import a module that registers feature plugins, record formats or
 * model kinds of one's own (docs/architecture.md) before the options are read, so `--features`, `-f` and `--kind`
 * know their names. Relative paths are from the working directory.
 */
export async function loadPluginModules(argv: readonly string[]): Promise<void> {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const spec = a === '--plugin' ? argv[++i] : a.startsWith('--plugin=') ? a.slice(9) : undefined;
    if (spec === undefined) continue;
    if (spec === '' || spec.startsWith('-')) throw new Error('--plugin needs a module path');
    const url = /^[a-z][a-z0-9+.-]*:/i.test(spec) ? spec : pathToFileURL(resolve(spec)).href;
    try {
      await import(url);
    } catch (e) {
      throw new Error(`--plugin ${spec}: cannot load it: ${(e as Error).message}`);
    }
  }
}
