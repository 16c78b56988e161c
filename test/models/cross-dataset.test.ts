import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { baselines } from '../../src/models/cross-dataset.js';
import { cli, labelWhatsApp } from '../helpers/cli.js';
import { pythonJson, skipWithoutSklearn } from '../helpers/sklearn.js';
import { SHARED } from '../helpers/tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'cipherscope-cross-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('cross-dataset evaluation', () => {
  it('majority and stratified-chance baselines: by hand, and as scikit-learn DummyClassifier scores them', { skip: skipWithoutSklearn }, () => {
    // By hand: train shares a 2/3, b 1/3; test a 1/4, b 1/2, c 1/4.
    const b = baselines(['a', 'a', 'b'], ['a', 'b', 'b', 'c']);
    assert.equal(b.majority.class, 'a');
    assert.equal(b.majority.accuracy, 0.25);
    assert.ok(Math.abs(b.majority.macroF1 - 0.4 / 3) < 1e-12);
    assert.ok(Math.abs(b.chance.accuracy - 1 / 3) < 1e-12);
    assert.ok(Math.abs(b.chance.macroF1 - ((2 * (2 / 3) * 0.25) / (2 / 3 + 0.25) + (2 * (1 / 3) * 0.5) / (1 / 3 + 0.5)) / 3) < 1e-12);
    // scikit-learn: most_frequent exactly; stratified guessing averaged over 200 seeds on 6,000 test rows.
    const train = [...Array(700).fill('text'), ...Array(200).fill('video'), ...Array(100).fill('voice')];
    const test = [...Array(1500).fill('text'), ...Array(3000).fill('video'), ...Array(900).fill('voice'), ...Array(600).fill('picture')];
    const ours = baselines(train, test);
    const sk = pythonJson<{ majAcc: number; majF1: number; chAcc: number; chF1: number }>(`
import json, numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, f1_score
tr = np.array(${JSON.stringify(train)}); te = np.array(${JSON.stringify(test)})
X = np.zeros((len(tr), 1)); Xt = np.zeros((len(te), 1))
labels = sorted(set(te))
m = DummyClassifier(strategy='most_frequent').fit(X, tr).predict(Xt)
acc, f1 = [], []
for s in range(200):
    p = DummyClassifier(strategy='stratified', random_state=s).fit(X, tr).predict(Xt)
    acc.append(accuracy_score(te, p)); f1.append(f1_score(te, p, labels=labels, average='macro', zero_division=0))
print(json.dumps({'majAcc': accuracy_score(te, m), 'majF1': f1_score(te, m, labels=labels, average='macro', zero_division=0), 'chAcc': float(np.mean(acc)), 'chF1': float(np.mean(f1))}))
`);
    assert.ok(Math.abs(ours.majority.accuracy - sk.majAcc) < 1e-12);
    assert.ok(Math.abs(ours.majority.macroF1 - sk.majF1) < 1e-12);
    assert.ok(Math.abs(ours.chance.accuracy - sk.chAcc) < 0.003, `chance accuracy ${ours.chance.accuracy} vs ${sk.chAcc}`);
    assert.ok(Math.abs(ours.chance.macroF1 - sk.chF1) < 0.005, `chance macro-F1 ${ours.chance.macroF1} vs ${sk.chF1}`);
  });

  const data = join(SHARED, 'datasets/whatsapp-web-actions');
  it('evaluate --train userA --test userB: every row counts its rows and sits beside its baselines', { skip: existsSync(data) ? false : 'needs ../shared/datasets' }, () => {
    const a = labelWhatsApp(data, dir, [['userA-text-messages.pcapng', 'text'], ['userA-videos.pcapng', 'video']], ['--length', 'transport'], 'a-');
    const b = labelWhatsApp(data, dir, [['userB-text-messages.pcap', 'text'], ['userB-videos.pcap', 'video']], ['--length', 'transport'], 'b-');
    const r = cli(['evaluate', '--train', ...a, '--test', ...b, '--exclude', 'ip_version', '--report', join(dir, 'cross.json')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\| RF \| action \(WhatsApp\) \| 211 \/ 106 \| [\d.]+ \[[\d.]+, [\d.]+\] \/ [\d.]+ \| [\d.]+ \/ [\d.]+ \((text|video)\) \| [\d.]+ \/ [\d.]+ \| - \|$/m);
    const both = cli(['evaluate', a[0], '--train', a[1], '--test', b[0]]);
    assert.equal(both.status, 1);
    assert.match(both.stderr, /either records to split, or --train and --test/);
  });
});
