import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { count as int, list, reportErrors } from './args.js';
import { type RecordTable, readRecordsCsv } from '../dataset/records.js';
import { toMatrix } from '../dataset/matrix.js';
import { extractFlows, flowColumns } from '../meter/meter.js';
import { ALL_GROUPS, type PluginOptions, flowPlugins } from '../features/plugins.js';
import type { FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { DEFAULT_LABEL_BURST_GAP_SEC, labeledColumns } from '../label/label-capture.js';
import { FOREST_LEARNER, SVM_LEARNER, clusterClassification, clusterMarkdown, earlyClassification, earlyMarkdown, evaluateModels, lstmLearner, openWorld, openWorldMarkdown, seriesMatrix, table2Markdown } from '../models/evaluate.js';
import { LSTM_TRAIN_DEFAULTS } from '../models/lstm-train.js';
import { StatusLine } from './progress.js';
import { type ModelManifest, loadModels, predict, saveModels, trainModels } from '../models/model-dir.js';
import { evaluationHtml } from '../models/report-html.js';
import { PREDICTION_COLUMNS } from '../models/predictions.js';
import { formatFromPath, openRecordWriter } from '../output/writers.js';


/** Labeled records from one or more CSV files (same columns), concatenated. */
function readLabeled(files: string[]): { table: RecordTable; bytes: Buffer } {
  // Every group's columns, so an optional one (series_pooled) is typed when a file has it.
  const cols = labeledColumns(flowPlugins({ groups: ALL_GROUPS }));
  let table: RecordTable | undefined;
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(readFileSync(f));
    const t = readRecordsCsv(f, cols);
    if (table === undefined) table = t;
    else if (t.names.join(',') !== table.names.join(',')) throw new Error(`${f}: its columns differ from ${files[0]}'s`);
    else table.rows.push(...t.rows);
  }
  return { table: table!, bytes: Buffer.concat(parts) };
}

export { PREDICTION_COLUMNS };

const KEPT = ['capture', 'flow_id', 'segment', 'first_seen_ns', 'last_seen_ns', 'protocol', 'client_addr', 'client_port', 'server_addr', 'server_port', 'packets', 'bytes'];

export function addModelCommands(program: Command): void {
  program
    .command('evaluate')
    .description("Evaluate the random forest and the SVM on labeled flow records (cipherscope label / testbed output) in the layout of the paper's Table 2: app, then action per app; macro-F1 with a 95% bootstrap interval, and accuracy; split by capture (or blocks of consecutive flows), with the paper's random 80/20 split as a leaky reference row.")
    .argument('<records...>', 'labeled flow records (.csv)')
    .option('--folds <n>', 'folds of the grouped split', int, 5)
    .option('--seed <n>', 'seed of the split, the forests and the bootstrap', int, 1)
    .option('--exclude <columns>', 'leave these feature columns out too (ablation), comma-separated', list, [])
    .option('--report <file.json>', 'write every score, per-class figures, confusion matrices and top features here')
    .option('--html <file.html>', 'write a self-contained HTML report (tables, confusion matrices as SVG)')
    .option('--models <list>', 'models to evaluate: rf, svm, lstm (default: all three when the records have series_pooled, else rf,svm)', list)
    .option('--lstm-batches <n>', 'LSTM training batches of 50 (early stopping may end sooner)', int, LSTM_TRAIN_DEFAULTS.batches)
    .option('--threads <n>', 'LSTM training threads', int, LSTM_TRAIN_DEFAULTS.threads)
    .option('--no-progress', 'no status line on a terminal')
    .action((files: string[], o) =>
      reportErrors(async () => {
        const { table } = readLabeled(files);
        const hasSeries = table.names.includes('series_pooled');
        const models: string[] = o.models ?? (hasSeries ? ['rf', 'svm', 'lstm'] : ['rf', 'svm']);
        const unknown = models.filter((m) => !['rf', 'svm', 'lstm'].includes(m));
        if (unknown.length > 0) throw new Error(`--models: unknown model ${unknown.join(', ')} (rf, svm, lstm)`);
        if (!hasSeries && !o.models) process.stderr.write('cipherscope: no series_pooled column, so no LSTM row (label with --features all to get one)\n');
        const status = new StatusLine(o.progress);
        const lstm = lstmLearner({ batches: o.lstmBatches, threads: o.threads, onProgress: (b, n) => status.show(`LSTM training: batch ${b}/${n}`) });
        const learners = models.map((m) => (m === 'rf' ? FOREST_LEARNER : m === 'svm' ? SVM_LEARNER : lstm));
        const opts = { folds: o.folds, seed: o.seed, exclude: o.exclude, learners };
        const results = await evaluateModels(table, labeledColumns(), opts);
        status.clear();
        process.stdout.write(table2Markdown(results));
        const open = await openWorld(table, labeledColumns(), opts);
        if (open.length > 0) process.stdout.write('\nOpen world (random forest):\n\n' + openWorldMarkdown(open));
        const early = await earlyClassification(table, opts);
        const whole = results.find((r) => r.model === 'RF' && r.task === 'app' && r.split === 'group-kfold');
        if (early.length > 0) process.stdout.write('\nEarly classification (random forest, grouped k-fold):\n\n' + earlyMarkdown(early, whole));
        const clusters = await clusterClassification(table, opts);
        if (clusters.length > 0) process.stdout.write('\nClusters of streams (random forest on merged count, sum and sum of squares; grouped k-fold):\n\n' + clusterMarkdown(clusters));
        if (o.report) writeFileSync(o.report, JSON.stringify({ files, folds: o.folds, seed: o.seed, exclude: o.exclude, results, openWorld: open, early, clusters }, null, 2) + '\n');
        if (o.html) writeFileSync(o.html, evaluationHtml(`cipherscope evaluation: ${files.join(', ')}`, results, open, early, table2Markdown(results), clusters));
      }),
    );

  program
    .command('train')
    .description('Train the app model and one action model per app on labeled flow records and save them with a manifest: random forests (50 trees of depth 15 for apps, 20 of depth 10 for actions) or the paper\'s LSTM ensemble (needs series_pooled: label with --features all).')
    .argument('<records...>', 'labeled flow records (.csv)')
    .requiredOption('--model <dir>', 'model directory to write')
    .option('--kind <kind>', 'rf (random forests) or lstm', 'rf')
    .option('--seed <n>', 'seed', int, 1)
    .option('--exclude <columns>', 'leave these feature columns out, comma-separated (forests)', list, [])
    .option('--burst-gap <seconds>', 'the --burst-gap the records were labeled with (classify meters the same way)', Number, DEFAULT_LABEL_BURST_GAP_SEC)
    .option('--lstm-batches <n>', 'LSTM training batches of 50 (early stopping may end sooner)', int, LSTM_TRAIN_DEFAULTS.batches)
    .option('--threads <n>', 'LSTM training threads', int, LSTM_TRAIN_DEFAULTS.threads)
    .option('--no-progress', 'no status line on a terminal')
    .action((files: string[], o) =>
      reportErrors(async () => {
        if (o.kind !== 'rf' && o.kind !== 'lstm') throw new Error(`--kind: ${o.kind}: rf or lstm`);
        const { table, bytes } = readLabeled(files);
        const status = new StatusLine(o.progress);
        const m = await trainModels(table, labeledColumns(), bytes, {
          kind: o.kind === 'lstm' ? 'lstm' : 'random-forest',
          seed: o.seed,
          exclude: o.exclude,
          meter: { burstGapSec: o.burstGap },
          lstm: { batches: o.lstmBatches, threads: o.threads, onProgress: (b, n) => status.show(`LSTM training: batch ${b}/${n}`) },
        });
        status.clear();
        saveModels(o.model, m);
        process.stderr.write(`cipherscope: trained ${m.manifest.kind} on ${m.manifest.trainingRows} flows, ${m.manifest.features.length} input column(s), apps ${m.manifest.apps.join(', ')} -> ${o.model}\n`);
      }),
    );

  program
    .command('classify')
    .description('Meter a capture and predict each flow\'s app and action with a trained model.')
    .argument('<capture>', 'pcap or pcapng file')
    .requiredOption('--model <dir>', 'model directory (cipherscope train)')
    .option('-o, --output <file>', 'output (.csv, .jsonl, .parquet); - for standard output', '-')
    .option('--threshold <p>', 'app probability below which the app is "unknown" (default: the threshold train calibrated)', Number)
    .action((capture: string, o) =>
      reportErrors(async () => {
        const c = flowClassifier(o.model, o.threshold);
        const rows: CellValue[][] = [];
        await extractFlows(capture, (r) => rows.push(r.slice()), { plugins: c.plugins, flow: c.flow });
        const w = openRecordWriter(formatFromPath(o.output), o.output, c.columns);
        for (const r of c.classify(rows)) w.write(r);
        await w.close();
      }),
    );
}

/**
 * A trained model ready for flow records: the plugins and metering it needs, and classify(), which turns full flow
 * records into classify's output rows (the KEPT columns, then the predictions). Used by classify and live.
 */
export function flowClassifier(
  modelDir: string,
  threshold?: number,
): { plugins: FlowPlugin[]; pluginOptions: PluginOptions; flow: { burstGapSec: number }; columns: ColumnDef[]; manifest: ModelManifest; classify(rows: CellValue[][]): CellValue[][] } {
  const m = loadModels(modelDir);
  const pluginOptions: PluginOptions = m.manifest.kind === 'lstm' ? { groups: ALL_GROUPS } : {};
  const plugins = flowPlugins(pluginOptions);
  const cols = flowColumns(plugins);
  const names = cols.map((c) => c.name);
  const missing = m.manifest.features.filter((f) => !names.includes(f));
  if (missing.length > 0) throw new Error(`${modelDir}: the model needs columns this version does not write: ${missing.join(', ')}`);
  const keep = KEPT.map((k) => names.indexOf(k));
  return {
    plugins,
    pluginOptions,
    flow: { burstGapSec: m.manifest.meter.burstGapSec },
    columns: [...KEPT.map((k) => cols[names.indexOf(k)]), ...PREDICTION_COLUMNS],
    manifest: m.manifest,
    classify(rows) {
      if (rows.length === 0) return [];
      const table = { names, rows };
      const all = [...rows.keys()];
      const preds = predict(m, m.manifest.kind === 'lstm' ? seriesMatrix(table, all) : toMatrix(table, { names: m.manifest.features }, all), threshold);
      return rows.map((r, i) => [...keep.map((j) => r[j]), preds[i].app, preds[i].appProb, preds[i].action, preds[i].actionProb]);
    },
  };
}
