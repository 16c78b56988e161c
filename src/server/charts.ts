import type { TimelinePoint } from './flow-store.js';

/**
 * The dashboard's charts as Vega-Lite specifications, data inline: the page renders them with vega-embed, and
 * `cipherscope report` renders the same specifications to SVG with Vega in Node, so both show the same thing.
 */

export type VegaLiteSpec = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 640;

/** Flows starting per time bin, stacked by app or action. */
export function timelineSpec(points: readonly TimelinePoint[], binMs: number, by: 'app' | 'action', title: string): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    title,
    width: WIDTH,
    height: 220,
    // Pre-binned: each bar spans its bin (x to x2), whatever the bin width.
    data: { values: points.map((p) => ({ time: p.t, end: p.t + binMs, [by]: p.key, flows: p.flows, bytes: p.bytes })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'time', type: 'temporal', scale: { type: 'utc' }, title: `flow start, UTC (bins of ${binMs >= 60_000 ? `${binMs / 60_000} min` : `${binMs / 1000} s`})` },
      x2: { field: 'end' },
      y: { field: 'flows', type: 'quantitative', aggregate: 'sum', title: 'flows', stack: 'zero' },
      color: { field: by, type: 'nominal', title: by, scale: { scheme: 'tableau20' } },
    },
  };
}

/** Flows per app (horizontal bars), largest first. */
export function appBarsSpec(counts: Record<string, number>, title: string): VegaLiteSpec {
  const values = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([app, flows]) => ({ app, flows }));
  return {
    $schema: SCHEMA,
    title,
    width: WIDTH / 2,
    height: { step: 18 },
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'app', type: 'nominal', sort: '-x', title: null },
      x: { field: 'flows', type: 'quantitative', title: 'flows' },
      color: { field: 'app', type: 'nominal', legend: null, scale: { scheme: 'tableau20' } },
    },
  };
}

/** A confusion matrix as a heatmap: rows the truth, columns the prediction, shading by share of the row. */
export function confusionSpec(classes: readonly string[], matrix: readonly (readonly number[])[], title: string): VegaLiteSpec {
  const values = matrix.flatMap((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((n, j) => ({ truth: classes[i], predicted: classes[j], count: n, share: total > 0 ? n / total : 0 }));
  });
  const side = Math.max(160, Math.min(520, 34 * classes.length));
  return {
    $schema: SCHEMA,
    title,
    width: side,
    height: side,
    data: { values },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: [...classes], title: 'predicted', axis: { labelAngle: -45 } },
      y: { field: 'truth', type: 'nominal', sort: [...classes], title: 'truth' },
    },
    layer: [
      { mark: { type: 'rect', tooltip: true }, encoding: { color: { field: 'share', type: 'quantitative', title: 'share of row', scale: { scheme: 'blues', domain: [0, 1] } } } },
      {
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: 'datum.share > 0.6', value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

/** Per-class precision, recall and F1 as grouped bars. */
export function perClassSpec(rows: ReadonlyArray<{ class: string; precision: number; recall: number; f1: number }>, title: string): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    title,
    width: WIDTH / 2,
    data: { values: rows.flatMap((r) => (['precision', 'recall', 'f1'] as const).map((m) => ({ class: r.class, measure: m, value: r[m] }))) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'class', type: 'nominal', title: null },
      yOffset: { field: 'measure' },
      x: { field: 'value', type: 'quantitative', scale: { domain: [0, 1] }, title: 'score' },
      color: { field: 'measure', type: 'nominal', title: null },
    },
  };
}

/** A user's trait probabilities: one bar per value, a panel per trait and model. */
/** A row facet's header as a level caption above its panel. */
const ROW_HEADER = { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelAlign: 'left', labelFontWeight: 'bold', labelPadding: 4 } as const;

export function traitSpec(predictions: ReadonlyArray<{ model: string; trait: string; value: string; probability: number }>, title: string): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    title,
    data: { values: predictions.map((p) => ({ ...p, panel: `${p.trait} (${p.model})` })) },
    // Each panel's name above it, level: Vega-Lite's default row header is turned on its side at the left, where it
    // ran into the value labels of the y axis.
    facet: { row: { field: 'panel', type: 'nominal', title: null, header: ROW_HEADER } },
    spec: {
      width: WIDTH / 2,
      height: { step: 18 },
      mark: { type: 'bar', tooltip: true },
      encoding: {
        y: { field: 'value', type: 'nominal', title: null, sort: '-x', axis: { labelLimit: 160 } },
        x: { field: 'probability', type: 'quantitative', scale: { domain: [0, 1] }, title: 'probability' },
        color: { field: 'trait', type: 'nominal', legend: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** A user's usage counts (the evidence the trait models read): apps, actions, hours, weekdays. */
export function usageSpec(usage: Record<string, Record<string, number>>, title: string): VegaLiteSpec {
  const values = Object.entries(usage).flatMap(([kind, items]) => Object.entries(items).map(([item, count]) => ({ kind, item, count })));
  return {
    $schema: SCHEMA,
    title,
    data: { values },
    facet: { row: { field: 'kind', type: 'nominal', title: null, header: ROW_HEADER } },
    spec: {
      width: WIDTH / 2,
      height: { step: 14 },
      mark: { type: 'bar', tooltip: true },
      encoding: {
        y: { field: 'item', type: 'nominal', title: null, sort: null, axis: { labelLimit: 160 } },
        x: { field: 'count', type: 'quantitative', title: 'streams' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}
