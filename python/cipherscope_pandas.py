"""Read cipherscope records (flows, label, classify output) into pandas with the schema's types.

    import cipherscope_pandas as cs
    df = cs.read("flows.csv")          # or flows.jsonl; Parquet through DuckDB: cs.read_parquet("flows.parquet")

Needs pandas >= 1.5 only (Debian's python3-pandas; no pyarrow). Each column gets the type `cipherscope schema`
gives it: int and int64 -> Int64 (nullable), float -> float64, bool -> boolean (nullable), string -> string,
timestamp -> datetime64[ns, UTC] (NaT past 2262, where the *_ns column still holds it), int[] / float[] -> Python lists. Absent values are <NA> / NaN / NaT / None,
never a stand-in number (docs/schema.md, "Absent values"). Columns the schema does not know (classify's
predictions, your own) keep pandas' own guess.
"""
import json
import subprocess

import pandas as pd

PANDAS_TYPES = {"int": "Int64", "int64": "Int64", "float": "float64", "bool": "boolean", "string": "string"}


def schema(command="cipherscope"):
    """The column definitions, as `cipherscope schema --format json` prints them."""
    return json.loads(subprocess.check_output([command, "schema", "--format", "json"]))


def _header(path, jsonl):
    with open(path, encoding="utf-8-sig") as f:
        first = f.readline()
    if jsonl:
        return list(json.loads(first).keys()) if first.strip() else []
    return next(iter(__import__("csv").reader([first])), [])


def read(path, columns=None, command="cipherscope"):
    """A CSV or JSON Lines file of records as a DataFrame typed by the schema (`columns`: schema() output)."""
    cols = {c["name"]: c["type"] for c in (columns if columns is not None else schema(command))}
    with open(path, "rb") as f:
        jsonl = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
    present = _header(path, jsonl)
    dtypes = {n: PANDAS_TYPES[cols[n]] for n in present if cols.get(n) in PANDAS_TYPES and cols[n] != "int64"}
    # int64 columns (absolute nanoseconds) are read as text and converted here: a capture's clock can run past what
    # 64 bits hold (after year 2262), and pandas would refuse the whole file; such a value becomes <NA>.
    wide = [n for n in present if cols.get(n) == "int64"]
    stamps = [n for n in present if cols.get(n) == "timestamp"]
    lists = [n for n in present if cols.get(n, "").endswith("[]")]
    if jsonl:
        df = pd.read_json(path, lines=True, dtype={**dtypes, **{n: "object" for n in wide}}, convert_dates=stamps, keep_default_dates=False, precise_float=True)
        for n in stamps:  # a column of nulls only stays object; times past 2262 do not fit datetime64[ns]: NaT
            df[n] = pd.to_datetime(df[n], utc=True, errors="coerce")
    else:
        df = pd.read_csv(path, dtype={**dtypes, **{n: "string" for n in lists + wide}}, parse_dates=stamps, keep_default_na=False, na_values=[""],
                         float_precision="round_trip")  # pandas' default float parser can be off in the last digit
        for n in lists:
            df[n] = df[n].map(lambda v: json.loads(v) if isinstance(v, str) else None).astype(object)
        for n in stamps:
            df[n] = pd.to_datetime(df[n], utc=True, errors="coerce")
    for n in wide:
        df[n] = pd.array([_int64(v) for v in df[n]], dtype="Int64")
    return df


_INT64 = (-(2**63), 2**63 - 1)


def _int64(v):
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    x = int(v)
    return x if _INT64[0] <= x <= _INT64[1] else None


def read_parquet(path):
    """Parquet through DuckDB (pip's duckdb, or Debian's python3-duckdb where packaged), as pandas has no reader without pyarrow."""
    import duckdb  # noqa: PLC0415

    return duckdb.query(f"select * from read_parquet('{path}')").df()
