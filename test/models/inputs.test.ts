import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { featureSpec, toMatrix } from '../../src/dataset/matrix.js';
import { flowColumns } from '../../src/meter/meter.js';
import { FEATURE_GROUPS, flowPlugins } from '../../src/features/plugins.js';
import type { CellValue } from '../../src/flow/schema.js';
import { LABEL_COLUMNS, meterSettingsText, parseMeterSettings } from '../../src/label/labeler.js';
import { predict, saveModels, trainModels } from '../../src/models/model-dir.js';
import { loadFlowClassifier } from '../../src/pipeline/classifier.js';
import { flowsOf } from '../helpers/flows.js';
import { PCAPS } from '../helpers/tshark.js';
import { tempDir } from '../helpers/temp.js';

/** Real flows of a few shared captures with every default group and the after-handshake group, labeled by transport. */
async function records(spltPackets = 20) {
  const plugins = flowPlugins({ groups: [...FEATURE_GROUPS, 'after-handshake'], spltPackets });
  const cols = [...flowColumns(plugins), ...LABEL_COLUMNS];
  const names = cols.map((c) => c.name);
  const rows: CellValue[][] = [];
  for (const f of ['quic-curl-http3-google.pcap', 'tls12-https-heise-offers13.pcap', 'quic-firefox102-cloudflare.pcap', 'sll-mixed-tcp-dns-arp.pcap', 'tls-quic-ipv6-cloudflare.pcap']) {
    const { rows: flows } = await flowsOf(join(PCAPS, f), { plugins });
    for (const r of flows) rows.push(names.map((n) => (n === 'label_app' ? (r.protocol === 17 ? 'U' : 'T') : n === 'label_action' ? ((r.packets as number) > 6 ? 'many' : 'few') : n === 'capture' ? f : (r[n] ?? null))));
  }
  return { cols, table: { names, rows } };
}

describe('model inputs: after the handshake, first packets', () => {
  it('--after-handshake keeps only the ah_ columns; --first-packets adds list elements, NaN past a short list', async () => {
    const { cols, table } = await records();
    const all = featureSpec(cols, table.names);
    assert.ok(all.names.includes('tls_client_key_length_bytes') && all.names.includes('fwd_pkt_len_max_bytes'));
    // The whole set has the handshake's own size too, and no list element unless asked for.
    assert.ok(all.names.includes('handshake_packets') && all.names.includes('ah_fwd_packets') && !all.names.some((n) => n.includes('[')));
    const ah = featureSpec(cols, table.names, { afterHandshake: true, firstPackets: 5 });
    const plain = ah.names.filter((n) => !n.includes('['));
    assert.ok(plain.length >= 29 && plain.every((n) => n.startsWith('ah_')), plain.join(','));
    assert.ok(!ah.names.some((n) => /handshake_|tls_|^splt|^fwd_|^bwd_|^packets$/.test(n)));
    const lists = ah.names.filter((n) => n.includes('['));
    assert.deepEqual(lists.slice(0, 4), ['ah_splt_signed_len_bytes[0]', 'ah_splt_iat_ns[0]', 'ah_splt_signed_len_bytes[1]', 'ah_splt_iat_ns[1]']);
    assert.equal(lists.length, 10);
    const x = toMatrix(table, ah, [...table.rows.keys()]);
    const li = table.names.indexOf('ah_splt_signed_len_bytes');
    const j = ah.names.indexOf('ah_splt_signed_len_bytes[3]');
    let short = 0;
    table.rows.forEach((r, i) => {
      const list = r[li] as number[];
      const v = x.data[i * x.cols + j];
      if (list.length > 3) assert.equal(v, list[3]);
      else {
        assert.ok(Number.isNaN(v));
        short++;
      }
    });
    assert.ok(short > 0 && short < table.rows.length, 'both long and short lists met');
    assert.throws(() => featureSpec(flowColumns(), flowColumns().map((c) => c.name), { afterHandshake: true }), /after-handshake/);
  });

  it('a model trained after the handshake on first packets classifies a capture: classify meters what it needs', async () => {
    const { cols, table } = await records(24);
    const m = await trainModels(table, cols, new Uint8Array([1]), { kind: 'gbdt', seed: 2, afterHandshake: true, firstPackets: 24, meter: { burstGapSec: 0, lengthMode: 'ip', spltPackets: 24 } });
    assert.ok(m.manifest.features.every((f) => f.startsWith('ah_')));
    assert.ok(m.manifest.features.includes('ah_splt_iat_ns[23]'));
    const dir = tempDir('cipherscope-ah-model-');
    saveModels(dir, m);
    const c = await loadFlowClassifier(dir);
    assert.ok(c.pluginOptions.groups?.includes('after-handshake'), 'classify meters the after-handshake group');
    assert.equal(c.pluginOptions.spltPackets, 24);
    // Metered by the classifier's own plugins, the records give the predictions of the model on the training table.
    const { rows } = await flowsOf(join(PCAPS, 'quic-firefox102-cloudflare.pcap'), { plugins: c.plugins, flow: c.flow });
    const names = c.meterColumns.map((col) => col.name);
    const metered = rows.map((r) => names.map((n) => r[n] ?? null));
    const got = c.predictions(metered);
    const mine = table.rows.map((r, i) => [r, i] as const).filter(([r]) => r[table.names.indexOf('capture')] === 'quic-firefox102-cloudflare.pcap').map(([, i]) => i);
    const want = predict(m, toMatrix(table, { names: m.manifest.features }, mine));
    assert.deepEqual(got.map((p) => p[0]), want.map((p) => p.app));
    await assert.rejects(trainModels(table, cols, new Uint8Array([1]), { kind: 'lstm', afterHandshake: true }), /handshake included/);
  });

  it('label_meter records the timeouts and list lengths; classify meters with them and says what an older model lacks', async () => {
    const full = { burstGapSec: 1, lengthMode: 'transport', idleTimeoutSec: 60, activeTimeoutSec: 900, spltPackets: 30, byteDistBytes: 4096 };
    const text = meterSettingsText(full);
    assert.equal(text, 'burst_gap_s=1 length=transport idle_s=60 active_s=900 splt=30 byte_dist=4096');
    assert.deepEqual(parseMeterSettings(text), full);
    assert.deepEqual(parseMeterSettings('burst_gap_s=0 length=ip'), { burstGapSec: 0, lengthMode: 'ip' });
    assert.equal(parseMeterSettings('burst_gap_s=1 length=ip idle=3'), undefined);
    const { cols, table } = await records();
    const at = table.names.indexOf('label_meter');
    for (const r of table.rows) r[at] = text;
    const m = await trainModels(table, cols, new Uint8Array([1]), { seed: 1 });
    assert.deepEqual(m.manifest.meter, full);
    const dir = tempDir('cipherscope-meter-model-');
    saveModels(dir, m);
    const c = await loadFlowClassifier(dir);
    assert.deepEqual(c.flow, { burstGapSec: 1, lengthMode: 'transport', idleTimeoutSec: 60, activeTimeoutSec: 900 });
    assert.equal(c.pluginOptions.spltPackets, 30);
    assert.equal(c.pluginOptions.byteDistBytes, 4096);
    assert.deepEqual(c.notes, []);
    // A model of records that said only their burst gap: classify says which defaults it meters with.
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    manifest.meter = { burstGapSec: 1 };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const old = await loadFlowClassifier(dir);
    assert.equal(old.notes.length, 1);
    assert.match(old.notes[0], /length accounting \(ip\), idle timeout \(120 s\), active timeout \(1800 s\), SPLT length \(20 packets\)/);
  });
});
