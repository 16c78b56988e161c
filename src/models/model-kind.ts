import type { Matrix } from '../dataset/matrix.js';
import type { PluginOptions } from '../features/registry.js';

/**
 * One contract for every model kind, from evaluation to prediction (hono's one Router interface, one shared test):
 * `evaluate` fits and predicts classes, `train` fits with calibrated probabilities and saves with toJSON, `classify`
 * and `serve` load with fromJSON and predict probabilities. A kind is one registry entry (model-kinds.ts).
 */

/** What a kind's rows hold. */
export type ModelInputs = 'features' | 'series';

export interface FitOptions {
  /** The app model, or an action model of one app (its actions and "impertinent"). */
  task: 'app' | 'action';
  seed: number;
  /**
   * Kinds that read an app context (usesContext): for action models, one row per training row, made by app models
   * that did not see the row (out of fold), as they will be made for new flows.
   */
  context?: Matrix;
  /** The model will be used, not only scored: probabilities must be calibrated for the unknown threshold. */
  deploy?: boolean;
  /** Kind-specific settings (the LSTM's batches, threads, progress callback); plain data unless a callback. */
  settings?: Readonly<Record<string, unknown>>;
}

export interface Model {
  /** Class of each row. */
  predict(x: Matrix, context?: Matrix): Int32Array;
  /** Class probabilities, rows x classes, row-major. */
  predictProba(x: Matrix, context?: Matrix): Float64Array;
  /** App models of kinds with usesContext: what each row hands to the action models. */
  context?(x: Matrix): Matrix;
  /** Mean decrease in impurity per input column (forests). */
  importances?: Float64Array;
  toJSON(): unknown;
}

export interface ModelKind {
  /** The name `evaluate --models` and `train --kind` take, and the manifest records. */
  name: string;
  /** The name in result tables ("RF"). */
  title: string;
  /** The name in sentences ("random forest"). */
  fullName: string;
  description: string;
  inputs: ModelInputs;
  /** Feature groups the input needs when classify meters a capture (series for the LSTM). */
  plugins: PluginOptions;
  /** False: no importances to report, so evaluation does not fit once more on all rows. */
  importances: boolean;
  /** App models hand a context to action models (Model.context). */
  usesContext: boolean;
  /** Manifest names this kind was saved under before (read as this kind). */
  aliases?: string[];
  fit(x: Matrix, y: Int32Array, classes: number, o: FitOptions): Promise<Model>;
  fromJSON(json: unknown, task: FitOptions['task']): Promise<Model>;
  /** What the manifest records of the settings of a task. */
  manifestSettings(task: FitOptions['task'], settings?: Readonly<Record<string, unknown>>): object;
}

const kinds = new Map<string, ModelKind>();

export function registerModelKind(kind: ModelKind): void {
  for (const n of [kind.name, ...(kind.aliases ?? [])]) if (kinds.has(n)) throw new Error(`a model kind named "${n}" is already registered`);
  kinds.set(kind.name, kind);
  for (const a of kind.aliases ?? []) kinds.set(a, kind);
}

export function modelKinds(): ModelKind[] {
  return [...new Set(kinds.values())];
}

export function modelKind(name: string): ModelKind {
  const k = kinds.get(name);
  if (k === undefined) throw new Error(`unknown model ${name}: the model kinds are ${modelKinds().map((m) => m.name).join(', ')}`);
  return k;
}
