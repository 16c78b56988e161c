#!/usr/bin/python3
"""scikit-learn on the data bench/ml/run.ts exported: RandomForestClassifier (the paper's 50 trees of depth 15,
one thread), make_pipeline(StandardScaler(), SVC()) and HistGradientBoostingClassifier. NaN (missing) values
become -3e38 (float32, which the forest uses) for the forest, which sends them left as cipherscope's forest does,
and the column mean for the SVM, as cipherscope does.

Served one step at a time so run.ts can alternate them with its own (the machine's speed drifts; a pair sees the
same phase): each line on stdin is "MODEL fit" or "MODEL predict" (MODEL rf, svm or gbdt), and each answer one
line of JSON on stdout: {"fit_s": CPU seconds} or {"predict_s": CPU seconds, "accuracy": ..., "macro_f1": ...}."""
import json
import sys
import time
import warnings

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

d = sys.argv[1]
Xtr = np.loadtxt(f"{d}/x_train.csv", delimiter=",", ndmin=2)
ytr = np.loadtxt(f"{d}/y_train.csv", dtype=int)
Xte = np.loadtxt(f"{d}/x_test.csv", delimiter=",", ndmin=2)
yte = np.loadtxt(f"{d}/y_test.csv", dtype=int)

with np.errstate(all="ignore"):
    warnings.simplefilter("ignore")
    # An all-missing column has no mean: 0, as cipherscope fills it.
    mean = np.nan_to_num(np.nanmean(Xtr, axis=0), nan=0.0)
fill = lambda X: np.where(np.isnan(X), mean, X)
forest_in = lambda X: np.nan_to_num(X, nan=-3e38)

# name: (a new model, its training inputs, its test inputs). Early stopping off for the boosted trees, as
# cipherscope's (on by default only above 10,000 rows); NaN handled natively by both.
MODELS = {
    "rf": (lambda: RandomForestClassifier(n_estimators=50, max_depth=15, random_state=0, n_jobs=1), forest_in(Xtr), forest_in(Xte)),
    "svm": (lambda: make_pipeline(StandardScaler(), SVC()), fill(Xtr), fill(Xte)),
    "gbdt": (lambda: HistGradientBoostingClassifier(early_stopping=False, random_state=0), Xtr, Xte),
}
fitted = {}

for line in sys.stdin:
    name, step = line.split()
    make, Xa, Xb = MODELS[name]
    t = time.process_time()
    if step == "fit":
        fitted[name] = make().fit(Xa, ytr)
        answer = {"fit_s": time.process_time() - t}
    else:
        p = fitted[name].predict(Xb)
        answer = {"predict_s": time.process_time() - t, "accuracy": accuracy_score(yte, p), "macro_f1": f1_score(yte, p, average="macro")}
    print(json.dumps(answer), flush=True)
