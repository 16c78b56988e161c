#!/usr/bin/python3
"""PyTorch anchor for cipherscope's LSTM app model, on the data bench/ml/run.ts exported: the same shape (4 chained
32-unit LSTM cells over 32 steps each of the reversed pooled series, 6 inputs, then a linear softmax layer on the last
h), the same training (class-uniform batches of 50, Adam at 1e-3, gradient clipping by global norm 5, a fixed number
of batches, no early stopping), CPU only with the given threads. Prints accuracy, macro-F1, training seconds and
sequences/s as JSON.

    torch_lstm.py DIR BATCHES THREADS
"""
import json
import sys
import time

import numpy as np
import torch
from torch import nn

d, batches, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(1)
rng = np.random.default_rng(1)
T, D, H, SEG = 128, 6, 32, 32

xtr = torch.from_numpy(np.fromfile(f"{d}/series_train.f32", dtype=np.float32).reshape(-1, T, D))
xte = torch.from_numpy(np.fromfile(f"{d}/series_test.f32", dtype=np.float32).reshape(-1, T, D))
ytr = np.loadtxt(f"{d}/y_train.csv", dtype=np.int64)
yte = np.loadtxt(f"{d}/y_test.csv", dtype=np.int64)
K = int(max(ytr.max(), yte.max()) + 1)


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.cells = nn.ModuleList(nn.LSTM(D, H, batch_first=True) for _ in range(T // SEG))
        self.out = nn.Linear(H, K)

    def forward(self, x):
        state = None
        for s, cell in enumerate(self.cells):
            _, state = cell(x[:, s * SEG:(s + 1) * SEG], state)
        return self.out(state[0][0])


model = Chain()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
by_class = [np.flatnonzero(ytr == c) for c in range(K)]
present = [c for c in range(K) if len(by_class[c]) > 0]
ytr_t = torch.from_numpy(ytr)

start = time.perf_counter()
for _ in range(batches):
    cls = rng.choice(present, size=50)
    ids = np.array([rng.choice(by_class[c]) for c in cls])
    opt.zero_grad()
    loss = loss_fn(model(xtr[ids]), ytr_t[ids])
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
seconds = time.perf_counter() - start

with torch.no_grad():
    pred = model(xte).argmax(1).numpy()
acc = float((pred == yte).mean())
f1s = []
for c in sorted(set(yte.tolist())):
    tp = int(((pred == c) & (yte == c)).sum())
    p = tp / max(1, int((pred == c).sum()))
    r = tp / max(1, int((yte == c).sum()))
    f1s.append(0 if p + r == 0 else 2 * p * r / (p + r))
print(json.dumps({"accuracy": acc, "macro_f1": float(np.mean(f1s)), "seconds": seconds, "sequences_per_s": batches * 50 / seconds, "torch": torch.__version__}))
