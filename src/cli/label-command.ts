import { checkOutputPath, writeFileAtomic } from '../common/atomic-file.js';
import { inputName } from '../pcap/reader.js';
import { type Command, Option } from 'commander';
import { BPF_HELP, CSV_RAW_HELP, appRules, captureFilter, COUNT_HELP, packetCount, featureGroups, inputsOf, milliseconds, reportErrors, seconds } from './args.js';
import { FEATURE_GROUPS, flowPlugins } from '../features/plugins.js';
import { AppMatcher } from '../features/apps.js';
import { LENGTH_MODES, type LengthMode } from '../flow/flow.js';
import { type ActionRecord, readActionLog } from '../label/actions.js';
import { DEFAULT_LABEL_BURST_GAP_SEC, labelCapture, labeledColumns } from '../label/label-capture.js';
import { DEFAULT_SLACK_AFTER_NS, DEFAULT_SLACK_BEFORE_NS, type LabelReport } from '../label/labeler.js';
import { formatFromPath, openRecordWriter } from '../output/writers.js';


/** One line a class: how many records each action of the class got. */
export function reportText(r: LabelReport): string {
  const lines = [`${r.records} records, ${r.actions} actions; by label: ${Object.entries(r.byAction).map(([k, v]) => `${k}=${v}`).join(' ')}`];
  for (const [k, v] of Object.entries(r.flowsPerAction)) lines.push(`  ${k}: ${v.actions} actions, records per action min ${v.min} median ${v.median} max ${v.max}`);
  if (r.actionsWithoutFlow.length > 0) lines.push(`  ${r.actionsWithoutFlow.length} action(s) without a record: seq ${r.actionsWithoutFlow.slice(0, 20).map((a) => a.seq).join(', ')}${r.actionsWithoutFlow.length > 20 ? ', ...' : ''}`);
  if (r.ambiguous.length > 0) lines.push(`  ${r.ambiguous.length} record(s) overlap several actions of their app (see the report)`);
  return lines.join('\n');
}

/**
 * Why a labeling run gave nothing to learn from, in words a user can act on: no record matched any action
 * (usually app rules that do not name the capture's flows: the testbed's apps need rules/testbed-apps.json).
 */
export function labelWarnings(r: LabelReport, actions: readonly ActionRecord[], flowApps: ReadonlyMap<string, number>): string[] {
  if (actions.length === 0) return ['the action log is empty'];
  const matched = (r.bySource.action ?? 0) + (r.bySource['largest-overlap'] ?? 0);
  if (matched > 0) return [];
  const logged = [...new Set(actions.map((a) => a.app))];
  const named = [...flowApps].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} (${v})`);
  const missing = logged.filter((a) => !flowApps.has(a));
  return [
    `no record matched any of the ${actions.length} action(s): ${missing.length === logged.length ? `no flow is named with the log's app${logged.length > 1 ? 's' : ''} ${logged.join(', ')}` : 'the flows of its apps lie outside the action windows'}` +
      `; the flows' apps: ${named.length > 0 ? named.join(', ') : 'none'}. Do the app rules (--apps) name this capture's flows? (The testbed's apps: --apps rules/testbed-apps.json.)`,
  ];
}

export function addLabelCommand(program: Command): void {
  program
    .command('label')
    .description('Label each flow record with the app (host rules) and the scripted action it overlaps in time (action log, JSON Lines); writes the records plus label_app, label_action, label_source, label_action_seq, and a labeling report.')
    .argument('[capture]', 'pcap or pcapng file taken while the actions ran')
    .option('-r, --read <file>', 'the capture, as tshark -r')
    .option('-f, --bpf <expr>', BPF_HELP, captureFilter)
    .option('-c, --count <packets>', COUNT_HELP, packetCount)
    .option('--actions <log.jsonl>', 'the action log (format: docs/ground-truth.md)')
    .option('--capture-action <app/action>', 'no log: the whole capture is one action of this app (datasets labeled per capture file)')
    .option('--user <name>', "with --capture-action: the capture's user (label_user, for evaluate --group-by user)")
    .option('--apps <rules.json|pcapdroid>', 'app host rules (default: the shipped rules/apps.json); "pcapdroid": only the app the device recorded (PCAPdroid captures, or the process of Apple PKTAP captures; flows without it have no app). The device\'s label, when a capture has it, is the strongest evidence either way')
    .option('--no-ip-lists', 'leave out the IP ownership lists the rules refer to')
    .option('-o, --output <file>', 'labeled flow records (.csv, .jsonl, .parquet); - for standard output', '-')
    .option('--csv-raw', CSV_RAW_HELP)
    .option('--report <file.json>', 'write the labeling report here (actions without a flow, ambiguous records, flows per action)')
    .option('--features <groups>', `feature groups, as for flows (default: ${FEATURE_GROUPS.join(',')}; "after-handshake" adds the statistics after the handshake (evaluate --after-handshake), "series" the LSTM input, "all" both)`, featureGroups, [...FEATURE_GROUPS])
    .option('--burst-gap <seconds>', 'split long-lived connections at silences this long, one record per burst (0 = off)', seconds, DEFAULT_LABEL_BURST_GAP_SEC)
    .addOption(new Option('--length <mode>', `what a packet's length counts (as flows --length): ${Object.keys(LENGTH_MODES).join(', ')}`).choices(Object.keys(LENGTH_MODES)).default('ip'))
    .option('--no-keepalive', "don't single out keep-alive bursts of long-lived connections (label keepalive; rule: docs/ground-truth.md)")
    .option('--slack-before <ms>', 'an action window opens this much before its start', milliseconds, Number(DEFAULT_SLACK_BEFORE_NS / 1_000_000n))
    .option('--slack-after <ms>', 'and closes this much after its end (late responses)', milliseconds, Number(DEFAULT_SLACK_AFTER_NS / 1_000_000n))
    .addOption(new Option('--ambiguity <policy>', 'records overlapping several actions: report = label "ambiguous"; largest-overlap = take the longest overlap (still reported)').choices(['report', 'largest-overlap']).default('report'))
    .option('--strict', 'exit with status 2 when the labeling did nothing useful (no record matched an action)')
    .option('-q, --quiet', 'no report summary on stderr')
    .action((arg: string | undefined, o) =>
      reportErrors(async () => {
        const [capture, ...more] = inputsOf(arg, o.read === undefined ? undefined : [o.read]);
        if (more.length > 0) throw new Error('label reads one capture: give it as the argument or as -r FILE');
        if ((o.actions === undefined) === (o.captureAction === undefined)) throw new Error('give either --actions LOG or --capture-action APP/ACTION');
        const deviceOnly = o.apps === 'pcapdroid';
        const apps = new AppMatcher(appRules(deviceOnly ? undefined : o.apps, o.ipLists), { deviceOnly });
        let actions: ActionRecord[];
        if (o.actions !== undefined) actions = readActionLog(o.actions).map((a) => ({ ...a, app: ruleSpelling(a.app, apps.apps) }));
        else {
          const m = /^([^/]+)\/(.+)$/.exec(o.captureAction);
          if (m === null) throw new Error(`--capture-action "${o.captureAction}": expected APP/ACTION`);
          // One action over all of time: every flow of the app is labeled with it; other flows are impertinent.
          actions = [{ user: o.user ?? '', device: 'capture', app: ruleSpelling(m[1], apps.apps), action: m[2], startNs: 0n, endNs: 2n ** 63n, scenario: 'capture-action', repetition: 0, seq: 0 }];
        }
        if (o.report) checkOutputPath(o.report); // written at the end: a name that cannot be written fails now
        const format = formatFromPath(o.output);
        const plugins = () => flowPlugins({ groups: o.features });
        const columns = labeledColumns(plugins());
        const writer = openRecordWriter(format, o.output, columns, { rawStrings: o.csvRaw === true });
        const evidenceAt = columns.findIndex((c) => c.name === 'app_evidence');
        const appAt = columns.findIndex((c) => c.name === 'app');
        const flowApps = new Map<string, number>();
        let byPhone = 0;
        const result = await labelCapture(
          capture,
          actions,
          {
            apps,
            keepalive: o.keepalive !== false,
            extract: { flow: { burstGapSec: o.burstGap, lengthMode: o.length as LengthMode }, plugins: plugins(), bpf: o.bpf as string | undefined, maxPackets: o.count as number | undefined },
            label: { slackBeforeNs: BigInt(Math.round(o.slackBefore * 1e6)), slackAfterNs: BigInt(Math.round(o.slackAfter * 1e6)), ambiguity: o.ambiguity },
          },
          (row) => {
            if (row[evidenceAt] === 'pcapdroid' || row[evidenceAt] === 'pktap') byPhone++;
            const app = row[appAt];
            if (typeof app === 'string') flowApps.set(app, (flowApps.get(app) ?? 0) + 1);
            writer.write(row);
          },
        );
        await writer.close();
        const shown = inputName(capture);
        if (deviceOnly && byPhone === 0) process.stderr.write(`cipherscope: ${shown}: warning: --apps pcapdroid, but no flow carries the device's app label (PCAPdroid's trailer or u-<uid> packet comments, or a PKTAP process): every record is labeled without an app\n`);
        if (o.report) writeFileAtomic(o.report, JSON.stringify(result.report, null, 2) + '\n');
        if (!o.quiet) process.stderr.write(`cipherscope: ${shown}: ${reportText(result.report)}\n`);
        const warnings = labelWarnings(result.report, actions, flowApps);
        for (const w of warnings) process.stderr.write(`cipherscope: ${shown}: warning: ${w}\n`);
        if (o.strict && warnings.length > 0) process.exitCode = 2;
      }),
    );
}

/**
 * An action's app as the rules spell it when it differs only in case ("whatsapp" is WhatsApp), so its flows, named
 * by the rules, match it; a name the rules do not know (a device's own app name) is kept as it is.
 */
export function ruleSpelling(app: string, known: readonly string[]): string {
  if (known.includes(app)) return app;
  const same = known.filter((k) => k.toLowerCase() === app.toLowerCase());
  return same.length === 1 ? same[0] : app;
}
