import type { ColumnDef } from '../flow/schema.js';

/** The columns `classify` (and `live --model`) append to a flow record. */
export const PREDICTION_COLUMNS: ColumnDef[] = [
  { name: 'predicted_app', type: 'string', unit: '', description: 'App the model predicts; "unknown" when its probability is below the calibrated threshold (95% of known-app flows kept; --threshold).' },
  { name: 'app_probability', type: 'float', unit: '', description: 'Probability of the predicted app (forests: mean over the trees; LSTM: softmax).' },
  { name: 'predicted_action', type: 'string', unit: '', description: 'Action predicted by the action model of the predicted app (impertinent included); empty for unknown apps.' },
  { name: 'action_probability', type: 'float', unit: '', description: 'Probability of the predicted action.' },
];
