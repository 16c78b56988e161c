import { View, parse } from 'vega';
import { compile } from 'vega-lite';
import type { VegaLiteSpec } from './charts.js';

/** A Vega-Lite specification drawn to SVG in Node (Vega's headless view: no browser, no canvas). */
export async function specToSvg(spec: VegaLiteSpec): Promise<string> {
  const view = new View(parse(compile(spec as unknown as Parameters<typeof compile>[0]).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
