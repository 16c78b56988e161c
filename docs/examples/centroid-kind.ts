// A model kind of one's own: nearest centroid (scikit-learn's NearestCentroid) on standardised flow features, with
// probabilities from a softmax over negative distances. docs/architecture.md walks through it;
// test/contract/models.test.ts takes it through evaluate, train and classify, and checks it against scikit-learn.
import type { Matrix } from '../../src/dataset/matrix.js';
import { argmaxRows } from '../../src/dataset/matrix.js';
import { type Model, registerModelKind } from '../../src/models/model-kind.js';
import { type Scaler, fitScaler } from '../../src/models/svm.js';

interface CentroidJson {
  classes: number;
  scaler: Scaler;
  /** classes x features, standardised. */
  centroids: number[];
}

function centroidModel(j: CentroidJson): Model {
  const d = j.scaler.mean.length;
  const proba = (x: Matrix): Float64Array => {
    const out = new Float64Array(x.rows * j.classes);
    for (let i = 0; i < x.rows; i++) {
      let max = -Infinity;
      for (let c = 0; c < j.classes; c++) {
        let dist = 0;
        for (let f = 0; f < d; f++) {
          const v = x.data[i * d + f];
          const z = v !== v || j.scaler.sd[f] === 0 ? 0 : (v - j.scaler.mean[f]) / j.scaler.sd[f];
          dist += (z - j.centroids[c * d + f]) ** 2;
        }
        out[i * j.classes + c] = -Math.sqrt(dist);
        if (out[i * j.classes + c] > max) max = out[i * j.classes + c];
      }
      let sum = 0;
      for (let c = 0; c < j.classes; c++) sum += out[i * j.classes + c] = Math.exp(out[i * j.classes + c] - max);
      for (let c = 0; c < j.classes; c++) out[i * j.classes + c] /= sum;
    }
    return out;
  };
  return { predictProba: proba, predict: (x) => argmaxRows(proba(x), j.classes), toJSON: () => j };
}

registerModelKind({
  name: 'centroid',
  title: 'NC',
  fullName: 'nearest centroid',
  description: 'nearest class centroid on standardised flow features',
  inputs: 'features',
  plugins: {},
  importances: false,
  usesContext: false,
  async fit(x, y, classes) {
    const scaler = fitScaler(x);
    const d = x.cols;
    const sum = new Float64Array(classes * d);
    const n = new Float64Array(classes);
    for (let i = 0; i < x.rows; i++) {
      n[y[i]]++;
      for (let f = 0; f < d; f++) {
        const v = x.data[i * d + f];
        sum[y[i] * d + f] += v !== v || scaler.sd[f] === 0 ? 0 : (v - scaler.mean[f]) / scaler.sd[f];
      }
    }
    return centroidModel({ classes, scaler, centroids: Array.from(sum, (s, k) => (n[Math.floor(k / d)] > 0 ? s / n[Math.floor(k / d)] : 0)) });
  },
  fromJSON: async (j) => centroidModel(j as CentroidJson),
  manifestSettings: () => ({ metric: 'euclidean', scaling: 'standard' }),
});
