#!/usr/bin/env python3
"""Expected light-curve results for the fink-2019-v3.1 alerts, computed with numpy
from the Avro content read by fastavro (independently of the Rust code).

    /tmp/pyampel/bin/python tests/golden/gen_lightcurve_golden.py tests/data/alerts > tests/fixtures/lightcurve-golden.json

Per alert (by candid): detections (candidate + prv_candidates with a candid and a magpsf),
summary values, and per band the weighted least-squares lines (weights 1/sigma^2)
of magpsf against jd - jd_peak for the rise (jd <= jd_peak) and the decline
(jd >= jd_peak), jd_peak being the brightest detection's time.
"""
import glob
import json
import os
import sys

import fastavro
import numpy as np


def wls(x, y, s):
    if len(x) < 2 or np.ptp(x) == 0:
        return None
    a = np.vstack([np.ones_like(x), x]).T
    w = 1.0 / s**2
    cov = np.linalg.inv(a.T @ (a * w[:, None]))
    p = cov @ (a.T @ (w * y))
    chi2 = float(np.sum(((y - a @ p) / s) ** 2))
    return {"slope": float(p[1]), "slope_err": float(np.sqrt(cov[1, 1])), "intercept": float(p[0]),
            "intercept_err": float(np.sqrt(cov[0, 0])), "chi2": chi2, "n": int(len(x))}


out = {}
for f in sorted(glob.glob(os.path.join(sys.argv[1], "ztf", "fink-2019-v3.1", "*.avro"))):
    with open(f, "rb") as fh:
        rec = next(fastavro.reader(fh))
    pts = [rec["candidate"]] + list(rec["prv_candidates"] or [])
    det = [p for p in pts if p.get("candid") and p.get("magpsf") is not None]
    det.sort(key=lambda p: (p["jd"], p["candid"]))
    bands = {}
    for fid in sorted({p["fid"] for p in det}):
        b = [p for p in det if p["fid"] == fid]
        peak = min(b, key=lambda p: (p["magpsf"], p["jd"]))
        t0 = peak["jd"]
        def seg(sel):
            s = [p for p in b if sel(p["jd"]) and p["sigmapsf"] and p["sigmapsf"] > 0]
            return wls(np.array([p["jd"] - t0 for p in s]), np.array([p["magpsf"] for p in s]),
                       np.array([p["sigmapsf"] for p in s]))
        bands[str(fid)] = {"n": len(b), "peak_jd": t0, "peak_mag": peak["magpsf"],
                           "rise": seg(lambda t: t <= t0), "decline": seg(lambda t: t >= t0)}
    out[str(rec["candid"])] = {
        "objectId": rec["objectId"],
        "ndet": len(det),
        "first_jd": det[0]["jd"], "last_jd": det[-1]["jd"],
        "ra": det[-1]["ra"], "dec": det[-1]["dec"],
        "bands": bands,
    }
json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
