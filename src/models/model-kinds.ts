import { type Matrix, argmaxRows } from '../dataset/matrix.js';
import { type ForestOptions, RandomForest } from './forest.js';
import { type AppContext, ACTION_SEGMENTS, APP_SEGMENTS, LSTM_UNITS, LstmModel, type LstmModelJson, appContext, fitActionLstm, fitAppLstm, predictAction } from './lstm-models.js';
import { LSTM_TRAIN_DEFAULTS, type LstmTrainOptions } from './lstm-train.js';
import { type Model, registerModelKind } from './model-kind.js';
import { SvmClassifier } from './svm.js';
import { DEFAULT_GBDT, type GbdtJson, GradientBoosting } from './gbdt.js';
import { ALL_GROUPS } from '../features/plugins.js';

/** The built-in model kinds, registered in the order `evaluate` runs them by default. */

/** The paper's forest settings (001: Table 2's random forest). */
export const APP_FOREST: Partial<ForestOptions> = { trees: 50, maxDepth: 15 };
export const ACTION_FOREST: Partial<ForestOptions> = { trees: 20, maxDepth: 10 };

// A RandomForest has predict, predictProba, importances and toJSON: it is a Model as it is.
registerModelKind({
  name: 'rf',
  title: 'RF',
  fullName: 'random forest',
  aliases: ['random-forest'],
  description: 'random forest (50 trees of depth 15 for apps, 20 of depth 10 for actions) on the flow features',
  inputs: 'features',
  plugins: {},
  importances: true,
  usesContext: false,
  fit: (x, y, k, o) => RandomForest.fitAuto(x, y, k, { ...(o.task === 'app' ? APP_FOREST : ACTION_FOREST), seed: o.seed }),
  fromJSON: async (j) => RandomForest.fromJSON(j as Parameters<typeof RandomForest.fromJSON>[0]),
  manifestSettings: (task) => (task === 'app' ? APP_FOREST : ACTION_FOREST),
});

registerModelKind({
  name: 'svm',
  title: 'SVM',
  fullName: 'support-vector machine',
  description: 'RBF support-vector machine on standardised flow features (libsvm; probabilities by Platt scaling when trained for use)',
  inputs: 'features',
  plugins: {},
  importances: false,
  usesContext: false,
  fit: (x, y, k, o) => SvmClassifier.fit(x, y, k, { probabilities: o.deploy === true }),
  fromJSON: (j) => SvmClassifier.fromJSON(j as Parameters<typeof SvmClassifier.fromJSON>[0]),
  manifestSettings: () => ({ kernel: 'rbf', cost: 1, gamma: 'scale', scaling: 'standard' }),
});

registerModelKind({
  name: 'gbdt',
  title: 'GBDT',
  fullName: 'gradient-boosted trees',
  aliases: ['hist-gradient-boosting'],
  description: "histogram-based gradient-boosted trees on the flow features (scikit-learn's HistGradientBoostingClassifier defaults: 100 iterations, 31 leaves)",
  inputs: 'features',
  plugins: {},
  importances: true,
  usesContext: false,
  fit: async (x, y, k) => GradientBoosting.fit(x, y, k),
  fromJSON: async (j) => GradientBoosting.fromJSON(j as GbdtJson),
  manifestSettings: () => DEFAULT_GBDT,
});

/** An app context as matrix rows: the app probabilities, then the cell state. */
function contextMatrix(c: AppContext): Matrix {
  const n = c.cells.length / LSTM_UNITS;
  const cols = c.apps + LSTM_UNITS;
  const data = new Float64Array(n * cols);
  for (let i = 0; i < n; i++) {
    data.set(c.probs.subarray(i * c.apps, (i + 1) * c.apps), i * cols);
    for (let u = 0; u < LSTM_UNITS; u++) data[i * cols + c.apps + u] = c.cells[i * LSTM_UNITS + u];
  }
  return { rows: n, cols, data };
}

function fromContextMatrix(m: Matrix | undefined): AppContext {
  if (m === undefined) throw new Error("lstm: the action models need the app model's context");
  const apps = m.cols - LSTM_UNITS;
  const probs = new Float64Array(m.rows * apps);
  const cells = new Float32Array(m.rows * LSTM_UNITS);
  for (let i = 0; i < m.rows; i++) {
    probs.set(m.data.subarray(i * m.cols, i * m.cols + apps), i * apps);
    for (let u = 0; u < LSTM_UNITS; u++) cells[i * LSTM_UNITS + u] = m.data[i * m.cols + apps + u];
  }
  return { probs, cells, apps };
}

/** The app model: one forward pass gives both probabilities and context (kept for the same input matrix). */
function lstmAppModel(m: LstmModel): Model {
  const seen = new WeakMap<Matrix, AppContext>();
  const ctx = (x: Matrix): AppContext => {
    let c = seen.get(x);
    if (c === undefined) seen.set(x, (c = appContext(m, x)));
    return c;
  };
  return {
    predictProba: (x) => ctx(x).probs,
    predict: (x) => argmaxRows(ctx(x).probs, m.shape.classes),
    context: (x) => contextMatrix(ctx(x)),
    toJSON: () => m.toJSON(),
  };
}

function lstmActionModel(m: LstmModel): Model {
  return {
    predictProba: (x, c) => predictAction(m, x, fromContextMatrix(c)),
    predict: (x, c) => argmaxRows(predictAction(m, x, fromContextMatrix(c)), m.shape.classes),
    toJSON: () => m.toJSON(),
  };
}

/**
 * The paper's LSTM ensemble (lstm-models.ts). The app model learns the app; its out-of-fold context (each flow's
 * app probabilities and last cell state from a model that did not see the flow) feeds the action models, as the
 * paper's action models read the app model's output and cell state. Two cells: the standard one (as Keras and
 * PyTorch) and the peephole cell the paper specifies (lstm-chain.ts).
 */
for (const [name, title, peephole] of [
  ['lstm', 'LSTM', false],
  ['plstm', 'LSTM (peephole)', true],
] as const) {
  registerModelKind({
    name,
    title,
    fullName: peephole ? 'peephole LSTM ensemble' : 'LSTM ensemble',
    description: peephole ? "the paper's LSTM ensemble with its peephole cells (gates see the cell state), on the pooled series" : "the paper's LSTM ensemble on the pooled series (needs series_pooled: --features all)",
    inputs: 'series',
    plugins: { groups: ALL_GROUPS },
    importances: false,
    usesContext: true,
    async fit(x, y, k, o) {
      const train = { ...(o.settings as Partial<LstmTrainOptions> | undefined), seed: o.seed };
      if (o.task === 'app') return lstmAppModel(await fitAppLstm(x, y, k, train, peephole));
      return lstmActionModel(await fitActionLstm(x, fromContextMatrix(o.context), y, k, train, peephole));
    },
    fromJSON: async (j, task) => (task === 'app' ? lstmAppModel : lstmActionModel)(LstmModel.fromJSON(j as LstmModelJson)),
    manifestSettings(task, settings) {
      const { onProgress: _, ...s } = { ...LSTM_TRAIN_DEFAULTS, ...(settings as Partial<LstmTrainOptions> | undefined) };
      return { ...s, units: LSTM_UNITS, segments: task === 'app' ? APP_SEGMENTS : ACTION_SEGMENTS, peephole };
    },
  });
}

export { modelKind, modelKinds, registerModelKind, type FitOptions, type Model, type ModelKind } from './model-kind.js';
