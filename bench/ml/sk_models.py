#!/usr/bin/python3
"""scikit-learn on the data bench/ml/run.ts exported: RandomForestClassifier (the paper's 50 trees of depth 15,
one thread) and make_pipeline(StandardScaler(), SVC()). Prints accuracy, macro-F1 and fit/predict CPU seconds (median of 3) as
JSON. NaN (missing) values become -3e38 (float32, which the forest uses) for the forest, which sends them left as cipherscope's forest does, and
the column mean for the SVM, as cipherscope does."""
import json
import sys
import time

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
out = {}


def median_time(f, runs=3):
    times = []
    for _ in range(runs):
        t = time.process_time()
        r = f()
        times.append(time.process_time() - t)
    return sorted(times)[runs // 2], r


def run(name, model, Xa, Xb):
    fit, _ = median_time(lambda: model.fit(Xa, ytr))
    pred, p = median_time(lambda: model.predict(Xb))
    out[name] = {"accuracy": accuracy_score(yte, p), "macro_f1": f1_score(yte, p, average="macro"), "fit_s": fit, "predict_s": pred}


run("rf", RandomForestClassifier(n_estimators=50, max_depth=15, random_state=0, n_jobs=1), np.nan_to_num(Xtr, nan=-3e38), np.nan_to_num(Xte, nan=-3e38))
with np.errstate(all="ignore"):
    import warnings
    warnings.simplefilter("ignore")
    # An all-missing column has no mean: 0, as cipherscope fills it.
    mean = np.nan_to_num(np.nanmean(Xtr, axis=0), nan=0.0)
fill = lambda X: np.where(np.isnan(X), mean, X)
run("svm", make_pipeline(StandardScaler(), SVC()), fill(Xtr), fill(Xte))
# Early stopping off, as cipherscope's (on by default only above 10,000 rows); NaN handled natively by both.
run("gbdt", HistGradientBoostingClassifier(early_stopping=False, random_state=0), Xtr, Xte)
print(json.dumps(out))
