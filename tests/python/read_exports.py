"""Read `ampel export` files as a notebook would, and say what came out.

Input (JSON on stdin): {"lightcurves": {"csv": PATH, "parquet": PATH},
"t2": {"parquet": PATH, "csv": PATH}}. Output (JSON on stdout): for each file, the
column names and dtypes pandas gives, the rows, and the records as pandas reads
them (NaN as null); for each Parquet file also what astropy's Table reads (column
names, rows) and the `ampel.units` metadata pyarrow sees.
"""

import json
import math
import sys
import warnings

import pandas as pd
import pyarrow.parquet as pq
from astropy.table import Table

warnings.simplefilter("ignore")  # astropy notes string lengths it infers


def clean(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
    return v


def frame(df):
    return {
        "columns": list(df.columns),
        "dtypes": {c: str(t) for c, t in df.dtypes.items()},
        "rows": len(df),
        "records": [{k: clean(v) for k, v in r.items()} for r in df.to_dict("records")],
    }


job = json.load(sys.stdin)
out = {}
for what, files in job.items():
    res = {}
    if "csv" in files:
        res["csv"] = frame(pd.read_csv(files["csv"]))
    if "parquet" in files:
        res["parquet"] = frame(pd.read_parquet(files["parquet"]))
        t = Table.read(files["parquet"])
        res["astropy"] = {"columns": t.colnames, "rows": len(t)}
        meta = pq.read_metadata(files["parquet"]).metadata or {}
        res["units"] = json.loads(meta.get(b"ampel.units", b"{}"))
    out[what] = res
json.dump(out, sys.stdout)
