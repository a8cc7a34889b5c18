"""Light-curve features of states with the `light-curve` Python package and numpy
(a test helper for T2LcFeatures).

Reads from stdin {"features": [name, ...], "states": [{"dps": [{"id": ..., "body":
{...}}, ...]}, ...]} and prints, per state, per band: the photometry it built, the
values of each feature by the package's names (null: too few points), the Bazin and
Villar fits (MCMC) on fluxes, and a few features computed with numpy alone. The
photometry is built here from the datapoints, independently of the Rust code:

- ZTF detections (positive ids): AB magnitudes `magpsf` +- `sigmapsf`, band by
  `fid` (1 g, 2 r, 3 i); flux in nJy = 10**(-0.4 (mag - ZP)), ZP = 2.5 log10(3631e9).
- Rubin sources and forced sources: `psfFlux` +- `psfFluxErr` in nJy, band `band`,
  time `midpointMjdTai`; magnitudes of positive fluxes.
- Times MJD; per band sorted by time; of equal times the smallest error is kept.

Runs in the venv `scripts/test` makes for it (light-curve, numpy).
"""

import json
import math
import sys

import light_curve as lc
import numpy as np

ZP = 2.5 * math.log10(3631e9)
K = 2.5 / math.log(10)

FEATURES = {
    "Amplitude": lambda: lc.Amplitude(),
    "AndersonDarlingNormal": lambda: lc.AndersonDarlingNormal(),
    "BeyondNStd": lambda: lc.BeyondNStd(1.0),
    "Cusum": lambda: lc.Cusum(),
    "Duration": lambda: lc.Duration(),
    "Eta": lambda: lc.Eta(),
    "EtaE": lambda: lc.EtaE(),
    "ExcessVariance": lambda: lc.ExcessVariance(),
    "InterPercentileRange": lambda: lc.InterPercentileRange(0.1),
    "Kurtosis": lambda: lc.Kurtosis(),
    "LinearFit": lambda: lc.LinearFit(),
    "LinearTrend": lambda: lc.LinearTrend(),
    "MagnitudePercentageRatio": lambda: lc.MagnitudePercentageRatio(0.4, 0.05),
    "MaximumSlope": lambda: lc.MaximumSlope(),
    "Mean": lambda: lc.Mean(),
    "Median": lambda: lc.Median(),
    "MedianAbsoluteDeviation": lambda: lc.MedianAbsoluteDeviation(),
    "MedianBufferRangePercentage": lambda: lc.MedianBufferRangePercentage(0.1),
    "ObservationCount": lambda: lc.ObservationCount(),
    "PercentAmplitude": lambda: lc.PercentAmplitude(),
    "PercentDifferenceMagnitudePercentile": lambda: lc.PercentDifferenceMagnitudePercentile(0.05),
    "ReducedChi2": lambda: lc.ReducedChi2(),
    "Skew": lambda: lc.Skew(),
    "StandardDeviation": lambda: lc.StandardDeviation(),
    "StetsonK": lambda: lc.StetsonK(),
    "WeightedMean": lambda: lc.WeightedMean(),
}


def good(v, e):
    return math.isfinite(v) and math.isfinite(e) and e > 0


def photometry(dps):
    bands = {}
    for d in dps:
        b = d["body"]
        if "psfFlux" in b:
            flux, err, band, t = b.get("psfFlux"), b.get("psfFluxErr"), b.get("band"), b.get("midpointMjdTai")
            if None in (flux, err, band, t):
                continue
            mag = (ZP - K * math.log(flux), K * err / flux) if flux > 0 else None
            fl = (flux, err)
        else:
            if d["id"] <= 0 or b.get("magpsf") is None or b.get("sigmapsf") is None:
                continue
            band = {1: "g", 2: "r", 3: "i"}.get(b.get("fid"))
            if band is None:
                continue
            t = b["jd"] - 2400000.5
            m, s = b["magpsf"], b["sigmapsf"]
            mag = (m, s)
            f = 10 ** (-0.4 * (m - ZP))
            fl = (f, f * s / K)
        entry = bands.setdefault(band, {"mag": [], "flux": []})
        if mag and good(*mag):
            entry["mag"].append((t, *mag))
        if good(*fl):
            entry["flux"].append((t, *fl))
    out = {}
    for band, e in bands.items():
        series = {}
        for kind, pts in e.items():
            pts.sort(key=lambda p: (p[0], p[2]))
            kept = []
            for p in pts:
                if not kept or kept[-1][0] != p[0]:
                    kept.append(p)
            series[kind] = [np.array([p[i] for p in kept], dtype=np.float64) for i in range(3)]
        out[band] = series
    return out


def evaluate(feature, t, v, e):
    try:
        values = feature(t, v, e)
    except ValueError:
        values = [None] * len(feature.names)
    return {n: (None if x is None or not math.isfinite(x) else float(x)) for n, x in zip(feature.names, values)}


def main():
    job = json.load(sys.stdin)
    features = [FEATURES[n]() for n in job["features"]]
    fits = {"bazin": lc.BazinFit("mcmc"), "villar": lc.VillarFit("mcmc")}
    out = []
    for st in job["states"]:
        result = {}
        for band, s in photometry(st["dps"]).items():
            t, m, e = s["mag"]
            r = {"mag_points": len(t), "flux_points": len(s["flux"][0]), "features": {}}
            for f in features:
                r["features"].update(evaluate(f, t, m, e))
            for name, f in fits.items():
                r[name] = evaluate(f, *s["flux"])
            if len(t) >= 2:
                w = 1 / e**2
                r["numpy"] = {
                    "mean": float(np.mean(m)),
                    "median": float(np.median(m)),
                    "standard_deviation": float(np.std(m, ddof=1)),
                    "weighted_mean": float(np.sum(m * w) / np.sum(w)),
                    "amplitude": float((np.max(m) - np.min(m)) / 2),
                    "duration": float(t[-1] - t[0]),
                }
            result[band] = r
        out.append(result)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
