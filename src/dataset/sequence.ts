/** The paper's LSTM input series; defined with the flow features (src/features/series.ts), where the plugin computes it. */
export { BANDS, DELAY_THRESHOLD_NS, HEAD_PACKETS, SERIES_PACKETS, SERIES_STEPS, SIZE_THRESHOLD, STEP_INPUTS, packetFeatures, paperSeries, pooledSeries } from '../features/series.js';
