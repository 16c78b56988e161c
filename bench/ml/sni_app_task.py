"""A many-class app task for bench:ml from a flow file: each flow's label is the registered domain of its SNI (or of
its DNS name), so the learners have 20 classes and thousands of rows to fit.

    cipherscope flows --features all bench/data/tls-6k-payload.pcap -o flows.csv
    /usr/bin/python3 bench/ml/sni_app_task.py flows.csv apps.csv
    npm run bench:ml -- apps.csv

A timing task, not a study: the name itself is a shortcut feature, so bench:ml's models, which do not read names,
have little to learn from the generated flows' statistics; accuracy is reported beside scikit-learn's on the same
split, and the fit and predict times are the point.
"""
import sys

import pandas as pd

src, out = sys.argv[1], sys.argv[2]
df = pd.read_csv(src, dtype=str, keep_default_na=False)


def app(row):
    name = row["tls_sni"] or row["dns_host"] or (row["dns_queries"].split(",")[0] if row["dns_queries"] else "")
    return ".".join(name.split(".")[-2:]) if name else ""


df["label_app"] = df.apply(app, axis=1)
df["label_action"] = "browse"
df["label_source"] = "sni"
df["label_action_seq"] = ""
df["label_user"] = df["client_addr"].map(lambda a: "u%d" % (sum(a.encode()) % 10))
df["label_meter"] = "bench"
df.to_csv(out, index=False)
print(f"{out}: {len(df)} flows, {df['label_app'].nunique()} labels", file=sys.stderr)
