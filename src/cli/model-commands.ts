import { checkOutputPath, writeFileAtomic } from '../common/atomic-file.js';
import type { InputOptions } from '../dataset/matrix.js';
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { BPF_HELP, COLUMN_NAMES_HELP, CSV_RAW_HELP, NO_IP_LISTS_HELP, appRules, captureFilter, COUNT_HELP, packetCount, count as int, inputsOf, list, pickNamedColumns, reportErrors, threadCount } from './args.js';
import type { RecordTable } from '../dataset/records.js';
import { readRecords } from '../dataset/record-files.js';
import { ALL_GROUPS, flowPlugins } from '../features/plugins.js';
import { DEFAULT_LABEL_BURST_GAP_SEC, labeledColumns } from '../label/label-capture.js';
import { SHORTCUT_SHARE, singleFeatureMarkdown, singleFeatureScores, clusterClassification, clusterMarkdown, earlyClassification, earlyMarkdown, evaluateModels, openWorld, openWorldMarkdown, seedsMarkdown, table2Markdown } from '../models/evaluate.js';
import { modelKind, modelKinds } from '../models/model-kinds.js';
import { LSTM_TRAIN_DEFAULTS } from '../models/lstm-train.js';
import { StatusLine } from './progress.js';
import { checkModelDir, saveModels, trainModels } from '../models/model-dir.js';
import { evaluationHtml } from '../models/report-html.js';
import { formatFromPath, openRecordWriter } from '../output/writers.js';
import { loadFlowClassifier } from '../pipeline/classifier.js';
import { runPipeline } from '../pipeline/pipeline.js';
import { fileSink } from '../pipeline/sinks.js';
import { crossDataset, crossMarkdown } from '../models/cross-dataset.js';
import { type ManifestMeter, meterOfRecords } from '../models/model-dir.js';
import { GROUP_BY, type GroupBy } from '../dataset/splits.js';


/** Every group's columns, so an optional one (after-handshake, series_pooled) is typed and known when a file has it. */
const recordColumns = () => labeledColumns(flowPlugins({ groups: ALL_GROUPS }));

/** Labeled records from one or more files (CSV, JSON Lines or Parquet; the same columns), concatenated. */
async function readLabeled(files: string[]): Promise<{ table: RecordTable; bytes: Buffer }> {
  const cols = recordColumns();
  let table: RecordTable | undefined;
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(readFileSync(f));
    const t = await readRecords(f, cols);
    if (table === undefined) table = t;
    else if (t.names.join(',') !== table.names.join(',')) throw new Error(`${f}: its columns differ from ${files[0]}'s`);
    else table.rows.push(...t.rows);
  }
  return { table: table!, bytes: Buffer.concat(parts) };
}

/** The metering a model records: the records' label_meter, which an explicit --burst-gap must agree with. */
function trainMeter(table: Parameters<typeof meterOfRecords>[0], burstGap: number | undefined): ManifestMeter {
  const fromRecords = meterOfRecords(table);
  if (fromRecords === undefined) {
    if (burstGap === undefined) process.stderr.write(`cipherscope: the records carry no label_meter; assuming they were labeled with --burst-gap ${DEFAULT_LABEL_BURST_GAP_SEC} and ip lengths\n`);
    return { burstGapSec: burstGap ?? DEFAULT_LABEL_BURST_GAP_SEC };
  }
  if (burstGap !== undefined && burstGap !== fromRecords.burstGapSec) throw new Error(`--burst-gap ${burstGap}, but the records were labeled with ${fromRecords.burstGapSec} (label_meter)`);
  return fromRecords;
}

/** Model kinds by name, for --models and --kind. */
/** The input options train, evaluate and the cross-dataset run share. */
function inputOptions(o: { exclude: string[]; withArtefacts?: boolean; afterHandshake?: boolean; firstPackets: number }): InputOptions {
  return { exclude: o.exclude, withArtefacts: o.withArtefacts === true, afterHandshake: o.afterHandshake === true, firstPackets: o.firstPackets };
}

const kindNames = () => modelKinds().map((k) => k.name);

export function addModelCommands(program: Command): void {
  program
    .command('evaluate')
    .description("Evaluate the random forest and the SVM on labeled flow records (cipherscope label / testbed output) in the layout of the paper's Table 2: app, then action per app; macro-F1 with a 95% bootstrap interval, and accuracy; split by capture (or blocks of consecutive flows), with the paper's random 80/20 split as a leaky reference row.")
    .argument('[records...]', 'labeled flow records (CSV, JSON Lines or Parquet, as label writes them); or --train and --test')
    .option('--train <records...>', 'cross-dataset: train on these records (e.g. one user)...')
    .option('--test <records...>', '...and test on these (another user): no test capture is seen in training; majority and chance baselines beside every row')
    .option('--folds <n>', 'folds of the grouped split (fewer groups: leave-one-group-out)', int, 5)
    .addOption(new Option('--group-by <what>', 'what the grouped split keeps whole: capture, user (label_user), device (client_addr), or block (time blocks within each capture: not capture-disjoint)').choices([...GROUP_BY]).default('capture'))
    .option('--seed <n>', 'seed of the split, the forests and the bootstrap', int, 1)
    .option('--seeds <n>', 'run Table 2 with N seeds (--seed, --seed + 1, ...) and print mean ± SD of every cell (the other experiments run on the first seed)', int, 1)
    .option('--closed-world', 'the app task without the flows of no app (by default they are the class "other": in use, most flows are no app the model knows)')
    .option('--with-artefacts', 'also the capture-setup artefacts as inputs (IP version, TCP MSS, window scale, initial window: the schema marks them)')
    .option('--exclude <columns>', 'leave these feature columns out too (ablation), comma-separated', list, [])
    .option('--after-handshake', 'only what was metered after the handshake (the ah_ columns of --features ...,after-handshake): no handshake packet, ClientHello field or whole-flow statistic')
    .option('--first-packets <n>', 'also the signed length and gap of each of the first N packets as inputs (the splt lists; after the handshake with --after-handshake)', int, 0)
    .option('--report <file.json>', 'write every score, per-class figures, confusion matrices and top features here')
    .option('--html <file.html>', 'write a self-contained HTML report (tables, confusion matrices as SVG)')
    .option('--models <list>', `models to evaluate: ${kindNames().join(', ')} (default: rf,svm,lstm when the records have series_pooled, else rf,svm)`, list)
    .option('--lstm-batches <n>', 'LSTM training batches of 50 (early stopping may end sooner)', int, LSTM_TRAIN_DEFAULTS.batches)
    .option('--threads <n>', 'LSTM training threads', threadCount, LSTM_TRAIN_DEFAULTS.threads)
    .option('--no-progress', 'no status line on a terminal')
    .action((files: string[], o) =>
      reportErrors(async () => {
        if ((o.train === undefined) !== (o.test === undefined)) throw new Error('--train and --test go together');
        // The reports are written at the end of a long run: a name that cannot be written fails now, not then.
        for (const f of [o.report, o.html]) if (typeof f === 'string') checkOutputPath(f);
        if (o.train !== undefined) {
          if (files.length > 0) throw new Error('give either records to split, or --train and --test, not both');
          const train = (await readLabeled(o.train)).table;
          const test = (await readLabeled(o.test)).table;
          const models: string[] = o.models ?? ['rf', 'svm'];
          for (const m of models) modelKind(m);
          const status = new StatusLine(o.progress);
          const lstm = { batches: o.lstmBatches, threads: o.threads, onProgress: (b: number, n: number) => status.show(`LSTM training: batch ${b}/${n}`) };
          const results = await crossDataset(train, test, recordColumns(), { folds: o.folds, seed: o.seed, ...inputOptions(o), models, settings: { lstm, plstm: lstm } });
          status.clear();
          process.stdout.write(crossMarkdown(results, o.train.join(' '), o.test.join(' ')));
          if (o.report) writeFileAtomic(o.report, JSON.stringify({ train: o.train, test: o.test, seed: o.seed, inputs: inputOptions(o), results }, null, 2) + '\n');
          return;
        }
        if (files.length === 0) throw new Error('give labeled records, or --train and --test');
        const { table } = await readLabeled(files);
        const hasSeries = table.names.includes('series_pooled');
        const models: string[] = o.models ?? (hasSeries && o.afterHandshake !== true && o.firstPackets === 0 ? ['rf', 'svm', 'lstm'] : ['rf', 'svm']);
        for (const m of models) modelKind(m); // an unknown name fails before any work
        if (!hasSeries && !o.models) process.stderr.write('cipherscope: no series_pooled column, so no LSTM row (label with --features all to get one)\n');
        const status = new StatusLine(o.progress);
        const lstm = { batches: o.lstmBatches, threads: o.threads, onProgress: (b: number, n: number) => status.show(`LSTM training: batch ${b}/${n}`) };
        const opts = { folds: o.folds, seed: o.seed, groupBy: o.groupBy as GroupBy, closedWorld: o.closedWorld === true, ...inputOptions(o), models, settings: { lstm, plstm: lstm }, onNote: (n: string) => process.stderr.write(`cipherscope: ${n}\n`) };
        const results = await evaluateModels(table, recordColumns(), opts);
        const runs = [results];
        for (let k = 1; k < o.seeds; k++) {
          status.show(`seed ${o.seed + k} (${k + 1} of ${o.seeds})`);
          runs.push(await evaluateModels(table, recordColumns(), { ...opts, seed: o.seed + k, onNote: undefined }));
        }
        status.clear();
        process.stdout.write(table2Markdown(results));
        const seeds = runs.map((_, k) => o.seed + k);
        if (runs.length > 1) process.stdout.write(`\nOver ${runs.length} seeds:\n\n` + seedsMarkdown(runs, seeds));
        const open = await openWorld(table, recordColumns(), opts);
        const experiments = modelKind('rf').fullName;
        if (open.length > 0) process.stdout.write(`\nOpen world (${experiments}):\n\n` + openWorldMarkdown(open));
        const early = await earlyClassification(table, opts);
        const whole = results.find((r) => r.model === 'RF' && r.task === 'app' && r.split === 'group-kfold');
        if (early.length > 0) process.stdout.write(`\nEarly classification (${experiments}, the grouped split):\n\n` + earlyMarkdown(early, whole));
        const singles = whole ? await singleFeatureScores(table, recordColumns(), opts, whole) : [];
        if (singles.length > 0) process.stdout.write(`\nShortcut check (${experiments}, the app task's top features each alone, same folds; flagged at ${Math.round(SHORTCUT_SHARE * 100)}% of the full model):\n\n` + singleFeatureMarkdown(singles, whole!));
        const clusters = await clusterClassification(table, opts);
        if (clusters.length > 0) process.stdout.write('\nClusters of streams (random forest on merged count, sum and sum of squares; the grouped split):\n\n' + clusterMarkdown(clusters));
        if (o.report) writeFileAtomic(o.report, JSON.stringify({ files, folds: o.folds, seed: o.seed, groupBy: o.groupBy, closedWorld: o.closedWorld === true, inputs: inputOptions(o), results, ...(runs.length > 1 ? { seeds, bySeed: runs } : {}), openWorld: open, early, singleFeatures: singles, clusters }, null, 2) + '\n');
        if (o.html) writeFileAtomic(o.html, evaluationHtml(`cipherscope evaluation: ${files.join(', ')}`, results, open, early, table2Markdown(results), clusters));
      }),
    );

  program
    .command('train')
    .description('Train the app model and one action model per app on labeled flow records and save them with a manifest: random forests (50 trees of depth 15 for apps, 20 of depth 10 for actions) or the paper\'s LSTM ensemble (needs series_pooled: label with --features all).')
    .argument('<records...>', 'labeled flow records (CSV, JSON Lines or Parquet)')
    .requiredOption('--model <dir>', 'model directory to write')
    .option('--kind <kind>', `model kind: ${modelKinds().map((k) => `${k.name} (${k.description})`).join('; ')}`, 'rf')
    .option('--seed <n>', 'seed', int, 1)
    .option('--closed-world', 'no class "other" for the flows of no app in the app model')
    .option('--with-artefacts', 'also the capture-setup artefacts as inputs (IP version, TCP MSS, window scale, initial window)')
    .option('--exclude <columns>', 'leave these feature columns out, comma-separated (forests)', list, [])
    .option('--after-handshake', 'only what was metered after the handshake (the ah_ columns of --features ...,after-handshake): no handshake packet, ClientHello field or whole-flow statistic')
    .option('--first-packets <n>', 'also the signed length and gap of each of the first N packets as inputs (the splt lists; after the handshake with --after-handshake)', int, 0)
    .option('--burst-gap <seconds>', `the --burst-gap the records were labeled with, for records without label_meter (default ${DEFAULT_LABEL_BURST_GAP_SEC}; classify meters the same way)`, Number)
    .option('--lstm-batches <n>', 'LSTM training batches of 50 (early stopping may end sooner)', int, LSTM_TRAIN_DEFAULTS.batches)
    .option('--threads <n>', 'LSTM training threads', threadCount, LSTM_TRAIN_DEFAULTS.threads)
    .option('--no-progress', 'no status line on a terminal')
    .action((files: string[], o) =>
      reportErrors(async () => {
        modelKind(o.kind);
        checkModelDir(o.model);
        const { table, bytes } = await readLabeled(files);
        const status = new StatusLine(o.progress);
        const m = await trainModels(table, recordColumns(), bytes, {
          kind: o.kind,
          seed: o.seed,
          ...inputOptions(o),
          closedWorld: o.closedWorld === true,
          meter: trainMeter(table, o.burstGap),
          settings: modelKind(o.kind).inputs === 'series' ? { batches: o.lstmBatches, threads: o.threads, onProgress: (b: number, n: number) => status.show(`LSTM training: batch ${b}/${n}`) } : undefined,
        });
        status.clear();
        saveModels(o.model, m);
        process.stderr.write(`cipherscope: trained ${m.manifest.kind} on ${m.manifest.trainingRows} flows, ${m.manifest.features.length} input column(s), apps ${m.manifest.apps.join(', ')} -> ${o.model}\n`);
      }),
    );

  program
    .command('classify')
    .description('Meter a capture and predict each flow\'s app and action with a trained model.')
    .argument('[capture]', 'pcap or pcapng file')
    .option('-r, --read <file>', 'the capture, as tshark -r')
    .option('-f, --bpf <expr>', BPF_HELP, captureFilter)
    .option('-c, --count <packets>', COUNT_HELP, packetCount)
    .requiredOption('--model <dir>', 'model directory (cipherscope train)')
    .option('-o, --output <file>', 'output (.csv, .jsonl, .parquet); - for standard output', '-')
    .option('--columns <names>', COLUMN_NAMES_HELP)
    .option('--threshold <p>', 'app probability below which the app is "unknown" (default: the threshold train calibrated)', Number)
    .option('--apps [rules.json]', "keep the app the rules name (app, app_evidence, app_host) beside the prediction (default: on, with the shipped rules/apps.json)", true)
    .option('--no-apps', 'no app columns from rules')
    .option('--no-ip-lists', NO_IP_LISTS_HELP)
    .option('--csv-raw', CSV_RAW_HELP)
    .action((arg: string | undefined, o) =>
      reportErrors(async () => {
        const [capture, ...more] = inputsOf(arg, o.read === undefined ? undefined : [o.read]);
        if (more.length > 0) throw new Error('classify reads one capture: give it as the argument or as -r FILE');
        const apps = o.apps === false ? undefined : appRules(o.apps, o.ipLists);
        const c = await loadFlowClassifier(o.model, o.threshold, apps !== undefined);
        for (const n of c.notes) process.stderr.write(`cipherscope: ${n}\n`);
        const pick = o.columns === undefined ? undefined : pickNamedColumns(c.columns, o.columns, 'classify');
        const w = openRecordWriter(formatFromPath(o.output), o.output, pick?.columns ?? c.columns, { rawStrings: o.csvRaw === true });
        await runPipeline(capture, [fileSink(w, undefined, pick?.project)], { classifier: c, apps, bpf: o.bpf as string | undefined, maxPackets: o.count as number | undefined });
        await w.close();
      }),
    );
}
