import type { Command } from 'commander';
import { count as int, reportErrors, seconds } from './args.js';
import { CaptureProcess, type CaptureSource, type Ring } from '../capture/capture.js';
import { readCapture } from '../pcap/reader.js';
import { checkOutputPath } from '../common/atomic-file.js';

/**
 * `cipherscope capture`: an interface through dumpcap, tshark or tcpdump, or a phone through adb, into one file or a
 * ring of files; runs until Ctrl-C (SIGINT), SIGTERM or --duration, then stops the tool, waits for its files and
 * lists them with their packet counts.
 */
export function addCaptureCommand(program: Command): void {
  program
    .command('capture')
    .description('Capture packets from an interface (dumpcap, tshark or tcpdump as a subprocess) or an Android phone (adb exec-out tcpdump, needs root), into a file or a ring of files; Ctrl-C stops without losing what was captured.')
    .requiredOption('-w, --write <file>', 'capture file (a ring: BASE_NNNNN... beside it)')
    .option('-i, --interface <iface>', 'interface to capture on (default: any)')
    .option('--adb [serial]', 'capture on an Android phone over adb instead (its tcpdump; the phone must be rooted)')
    .option('--adb-path <adb>', 'the adb executable', 'adb')
    .option('--tool <tool>', 'dumpcap, tshark or tcpdump (default: the first installed)')
    .option('-f, --bpf <expr>', 'capture filter in tcpdump syntax, given to the capture tool, e.g. "not host 10.0.0.1" to leave out a proxy host\'s own traffic')
    .option('--ring-size <MB>', 'start a new file after this many megabytes', Number)
    .option('--ring-seconds <seconds>', 'start a new file after this many seconds', seconds)
    .option('--ring-files <n>', 'keep only the newest n files of the ring', int)
    .option('--duration <seconds>', 'stop after this many seconds', seconds)
    .action((o) =>
      reportErrors(async () => {
        const ring: Ring | undefined =
          o.ringSize || o.ringSeconds || o.ringFiles ? { sizeBytes: o.ringSize ? Math.round(o.ringSize * 1e6) : undefined, seconds: o.ringSeconds || undefined, files: o.ringFiles } : undefined;
        if (ring && ring.sizeBytes === undefined && ring.seconds === undefined) throw new Error('--ring-files needs --ring-size or --ring-seconds');
        if (o.tool && !['dumpcap', 'tshark', 'tcpdump'].includes(o.tool)) throw new Error(`--tool ${o.tool}: dumpcap, tshark or tcpdump`);
        const source: CaptureSource = o.adb
          ? { kind: 'adb', serial: typeof o.adb === 'string' ? o.adb : undefined, adb: o.adbPath, iface: o.interface, filter: o.bpf, ring }
          : { kind: 'interface', iface: o.interface ?? 'any', tool: o.tool, filter: o.bpf, ring };
        // A ring's files are named after -w, in its directory: the same check holds for them.
        checkOutputPath(o.write);
        const cap = await CaptureProcess.start(source, o.write);
        process.stderr.write(`cipherscope: capturing (${cap.command.join(' ')}); Ctrl-C stops\n`);
        await new Promise<void>((resolve) => {
          const done = () => resolve();
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
          if (o.duration) setTimeout(done, o.duration * 1000).unref();
          // The tool may also end by itself: no such interface, no permission, the phone unplugged.
          void cap.ended().then(done);
        });
        const died = await cap.diedOnItsOwn(0);
        await cap.stop();
        for (const f of cap.files()) {
          const r = await readCapture(f, { packet() {}, issue() {} });
          process.stdout.write(`${f}\t${r.packets} packets\n`);
        }
        const extra = cap.messages.split('\n').filter((l) => l.startsWith('cipherscope:'));
        for (const l of extra) process.stderr.write(l + '\n');
        if (died !== undefined) throw new Error(`capture: ${died}`);
      }),
    );
}
