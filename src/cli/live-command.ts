import { createWriteStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import type { Command } from 'commander';
import { COLUMN_NAMES_HELP, CSV_RAW_HELP, NO_IP_LISTS_HELP, appRules, count as int, mebibytes, packetCount, pickNamedColumns, reportErrors, seconds, threadCount } from './args.js';
import { DEFAULT_MEMORY_MB } from '../common/memory-budget.js';
import { StatusLine } from './progress.js';
import { CaptureProcess } from '../capture/capture.js';
import { DEFAULT_STREAM, FlowQueue } from '../distributed/flow-queue.js';
import { DEFAULT_FLOW_OPTIONS } from '../flow/table.js';
import type { MeterStatus } from '../meter/meter.js';
import { formatFromPath, openRecordWriter, recordFormat } from '../output/writers.js';
import { loadFlowClassifier } from '../pipeline/classifier.js';
import { pipelineColumns, runPipeline } from '../pipeline/pipeline.js';
import { type RecordSink, fileSink, profileSink, queueSink } from '../pipeline/sinks.js';
import { openProfileStore } from '../profile/open.js';

/**
 * `cipherscope live`: flows of a packet stream as it arrives (a capture subprocess on an interface, or standard
 * input from any tool, e.g. `adb exec-out tcpdump -U -w - | cipherscope live -`), optionally classified by a trained
 * model and counted into the profile store. Memory stays bounded (the flow table's idle and active timeouts); idle
 * flows end on a timer, not only when the next packet comes; records are written as flows end. SIGINT or SIGTERM
 * stops the capture, which ends the stream: every active flow is written and the last profile updates commit.
 */
export function addLiveCommand(program: Command): void {
  program
    .command('live')
    .description('Meter a live packet stream continuously: flows (optionally classified, and counted into user profiles) as they end; Ctrl-C writes every active flow and commits.')
    .argument('[input]', '"-" for a capture on standard input (pcap or pcapng); without it, capture on --interface')
    .option('-i, --interface <iface>', 'capture on this interface (dumpcap, tshark or tcpdump as a subprocess)', 'any')
    .option('--tool <tool>', 'dumpcap, tshark or tcpdump (default: the first installed)')
    .option('-f, --bpf <expr>', 'capture filter in tcpdump syntax, given to the capture tool')
    .option('-c, --count <packets>', 'stop after this many packets, as tcpdump -c: every active flow is written, as at Ctrl-C', packetCount)
    .option('-o, --output <file>', 'records (.csv, .jsonl); - for standard output', '-')
    .option('--columns <names>', COLUMN_NAMES_HELP)
    .option('--csv-raw', CSV_RAW_HELP)
    .option('--copy <file>', 'also write the packets as they came to this capture file')
    .option('--model <dir>', 'classify each flow with this trained model (cipherscope train)')
    .option('--db <file|url>', 'with --model: count the classified flows into this profile store')
    .option('--key-file <file>', 'the pseudonym key for --db')
    .option('--publish <redis-url>', 'with --model: publish the classified flows to a Redis stream for `cipherscope worker`s (a sensor of the distributed mode)')
    .option('--stream <name>', 'the Redis stream for --publish', DEFAULT_STREAM)
    .option('--apps [rules.json]', 'add the app columns from host rules (default: the shipped rules/apps.json); server addresses are learned forward as flows are named')
    .option('--no-ip-lists', NO_IP_LISTS_HELP)
    .option('--threads <n>', 'meter in this many shards: this thread and N-1 worker threads (packets sharded by a symmetric hash of their addresses)', threadCount, 1)
    .option('--commit-every <seconds>', 'profile updates commit at this interval', seconds, 5)
    .option('--idle-timeout <seconds>', 'end a flow after this much silence', seconds, DEFAULT_FLOW_OPTIONS.idleTimeoutSec)
    .option('--active-timeout <seconds>', 'split a flow older than this', seconds, DEFAULT_FLOW_OPTIONS.activeTimeoutSec)
    .option('--tcp-close-grace <seconds>', 'keep a TCP flow open this long after FIN both ways or RST', seconds, DEFAULT_FLOW_OPTIONS.tcpCloseGraceSec)
    .option('--memory <MiB>', 'memory budget of the meter (as in flows)', mebibytes, DEFAULT_MEMORY_MB)
    .option('--no-progress', 'no status line on a terminal')
    .action((input: string | undefined, o) =>
      reportErrors(async () => {
        if (input !== undefined && input !== '-') throw new Error(`live reads a stream: "-" for standard input, or no argument to capture on --interface (for a file, use flows)`);
        if ((o.db || o.publish) && !o.model) throw new Error('--db and --publish need --model: profiles count classified flows');
        const apps = o.apps === undefined ? undefined : appRules(o.apps, o.ipLists);
        const classifier = o.model ? await loadFlowClassifier(o.model, undefined, apps !== undefined) : undefined;
        for (const n of classifier?.notes ?? []) process.stderr.write(`cipherscope: ${n}\n`);
        const live = { tickMs: 500 };
        const pipeline = { classifier, apps, threads: o.threads, live, maxPackets: o.count as number | undefined, memoryMiB: o.memory as number, flow: { idleTimeoutSec: o.idleTimeout, activeTimeoutSec: o.activeTimeout, tcpCloseGraceSec: o.tcpCloseGrace } };
        const columns = pipelineColumns(pipeline);
        const format = formatFromPath(o.output);
        if (recordFormat(format).completeOnClose) throw new Error(`live writes CSV or JSON Lines (${recordFormat(format).title} files are complete only when closed)`);
        const names = columns.map((c) => c.name);
        // --columns cuts the file's records only: the profile store and the queue get whole ones.
        const pick = o.columns === undefined ? undefined : pickNamedColumns(columns, o.columns, 'live');
        const sinks: RecordSink[] = [fileSink(openRecordWriter(format, o.output, pick?.columns ?? columns, { atomic: false, rawStrings: o.csvRaw === true }), undefined, pick?.project)];
        const { store, key } = o.db ? await openProfileStore(o) : { store: undefined, key: undefined };
        if (store) sinks.push(profileSink(store, key!, names, 'live', o.commitEvery * 1000));
        const queue = o.publish ? await FlowQueue.connect(o.publish, o.stream) : undefined;
        if (queue) sinks.push(queueSink(queue, names, o.commitEvery * 1000));

        let cap: CaptureProcess | undefined;
        let stream: Readable;
        if (input === '-') stream = process.stdin;
        else {
          cap = await CaptureProcess.start({ kind: 'interface', iface: o.interface, tool: o.tool, filter: o.bpf }, '-');
          stream = cap.stream;
          process.stderr.write(`cipherscope: live on ${o.interface} (${cap.command.join(' ')}); Ctrl-C stops\n`);
        }
        const stop = () => void cap?.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        if (o.copy) {
          const tee = new PassThrough();
          const copy = createWriteStream(o.copy);
          stream.pipe(tee);
          stream.pipe(copy);
          stream = tee;
        }

        const status = new StatusLine(o.progress);
        let records = 0;
        const counter: RecordSink = { name: 'count', write: (rows) => void (records += rows.length), flush: () => undefined, close: async () => {} };
        const started = Date.now();
        // Status line: packets/s over the last tick, flows open now, records out, packets that formed no flow.
        let last = { at: Date.now(), packets: 0 };
        const onStatus = (st: MeterStatus) => {
          const now = Date.now();
          const rate = now > last.at ? ((st.packets - last.packets) * 1000) / (now - last.at) : 0;
          last = { at: now, packets: st.packets };
          status.show(`live: ${Math.round(rate).toLocaleString('en-US')} packets/s, ${st.packets.toLocaleString('en-US')} packets, ${st.active.toLocaleString('en-US')} active flows, ${records.toLocaleString('en-US')} records, ${st.skipped.toLocaleString('en-US')} not metered, ${((now - started) / 1000).toFixed(0)} s`);
        };
        let summary: Awaited<ReturnType<typeof runPipeline>>;
        try {
          summary = await runPipeline(stream, [...sinks, counter], { ...pipeline, onStatus });
        } catch (e) {
          // A tool that failed at once (no such interface, no permission) leaves an empty stream: say why it ended.
          const died = await cap?.diedOnItsOwn();
          throw died === undefined ? e : new Error(`live: ${died}`);
        }
        status.clear();
        // The stream ended: by Ctrl-C (stop() ran), or because the capture tool died; or the packet count was
        // reached and the capture is stopped now. Records so far are written either way; a dead tool is a failed run.
        if (o.count !== undefined && summary.packets >= o.count) await cap?.stop();
        const died = await cap?.diedOnItsOwn();
        for (const s of sinks) await s.close();
        await store?.close();
        await queue?.close();
        await cap?.stop();
        process.stderr.write(`cipherscope: live: ${summary.packets} packets, ${summary.flows} flows, ${records} records${Object.keys(summary.dropped).length ? `, dropped ${JSON.stringify(summary.dropped)}` : ''}\n`);
        if (died !== undefined) {
          process.stderr.write(`cipherscope: live: error: ${died}; the records up to then are written\n`);
          process.exitCode = 1;
        }
      }),
    );
}
