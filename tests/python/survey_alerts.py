"""Write alert packets of four surveys to their published schemas, for the survey
mapping tests (no real packets of these surveys can be redistributed here).

Input (JSON on stdin): {"out": DIR}. For each survey an Avro container file per
alert goes to OUT/<survey>/, written with fastavro against the schema below:

- atlas: ALeRCE's ATLAS schema `atlas` 0.1 (schema/nested_schema_v3.avsc of
  alercebroker/atlas_realtime), complete; no history in ATLAS alerts.
- decam: the DESIRT DECam stream as the BOOM broker reads it (publisher
  "DESIRT": objectId, candid, candidate, fp_hists, cutouts; src/alert/decam.rs of
  boom-astro/boom), complete for the fields BOOM names; forced photometry below
  3 sigma has no magnitude (an upper limit).
- winter: mirar's `winter.alert` 0.4 (objectid, candid, candidate,
  prv_candidates, cutouts); the prv_candidate record complete, the candidate
  record with the fields a packet must have and the photometry (the published
  candidate has ~120 catalogue cross-match fields more, all nullable).
- elasticc: LSST DESC's `elasticc.v0_9` (alert, diaSource and diaForcedSource
  complete; diaObject with its first fields: id, position, extinction,
  redshift); fluxes are SNANA FLUXCAL (AB zero point 27.5).

Light curves are a rise and decline (a Bazin shape) per object and band, with
noise from a seeded generator, so every run writes the same packets. Output (JSON
on stdout), per survey: {"dir", "alerts", "objects": [names], "datapoints":
distinct measurements, "ids": [ids given by the packets, as the supplier signs
them], "unnamed": distinct measurements without an id, "points": {object name:
[[mjd, band, mag or null, kind]]} (the latest alert's light curve)}.
"""

import io
import json
import math
import os
import random
import sys

import fastavro

CUTOUT = b"\x1f\x8b" + bytes(30)  # a gzip header, no image: the cutouts are not read


def bazin(t, t0, peak):
    """Magnitude of a rise (5 d) and decline (25 d) peaking at `peak` near t0."""
    f = math.exp(-(t - t0) / 25.0) / (1.0 + math.exp(-(t - t0) / 5.0))
    return peak - 2.5 * math.log10(f / 0.62)


def epochs(rng, start, n, bands, step=2.0):
    out = []
    t = start
    for i in range(n):
        t += step + rng.random()
        out.append((round(t, 6), bands[i % len(bands)]))
    return out


def write(path, schema, record):
    parsed = fastavro.parse_schema(schema)
    with open(path, "wb") as f:
        fastavro.writer(f, parsed, [record], codec="deflate")


# ---------------------------------------------------------------- ATLAS
ATLAS_CUTOUT = {
    "namespace": "atlas", "type": "record", "name": "cutout", "version": "0.1",
    "doc": "avro schema for ATLAS cutouts",
    "fields": [{"name": "fileName", "type": "string"},
               {"name": "stampData", "type": "bytes", "doc": "fits.gz"}],
}
ATLAS = {
    "namespace": "atlas", "type": "record", "name": "alert", "version": "0.1",
    "doc": "avro schema for ATLAS alerts",
    "fields": [
        {"name": "schemavsn", "type": "string"},
        {"name": "candidate", "type": {
            "namespace": "atlas", "type": "record", "name": "candidate", "version": "0.1",
            "fields": [{"name": n, "type": "double"} for n in [
                "RA", "Dec", "Mag", "Dmag", "X", "Y", "Major", "Minor", "Phi", "Det", "ChiN",
                "Pvr", "Ptr", "Pmv", "Pkn", "Pno", "Pbn", "Pcr", "Pxt", "Psc", "Dup", "WPflx",
                "Dflx"]] + [
                {"name": "candid", "type": "string"},
                {"name": "mjd", "type": "double"},
                {"name": "filter", "type": "string"}]}},
        {"name": "candid", "type": "string"},
        {"name": "publisher", "type": "string"},
        {"name": "objectId", "type": "string"},
        {"name": "cutoutScience", "type": ATLAS_CUTOUT},
        {"name": "cutoutDifference", "type": "atlas.cutout"},
    ],
}


def atlas(rng, out):
    objects, points, ids = [], {}, []
    n = 0
    for k in range(3):
        oid = str(1153024491100417500 + 7919 * k)
        objects.append(oid)
        ra, dec = 15.0 + k, -4.9 + 0.1 * k
        t0 = 60300.0 + 3 * k
        for i, (t, band) in enumerate(epochs(rng, t0 - 12, 6, ["c", "o"])):
            mag = round(bazin(t, t0, 17.5 + 0.3 * k) + rng.gauss(0, 0.03), 3)
            candid = str(1010240020045410432 + 1000 * k + i)
            cand = {f["name"]: 0.0 for f in ATLAS["fields"][1]["type"]["fields"] if f["type"] == "double"}
            cand.update({"RA": ra, "Dec": dec, "Mag": mag, "Dmag": 0.05, "Pvr": 0.9,
                         "candid": candid, "mjd": t, "filter": band})
            rec = {"schemavsn": "0.1", "candidate": cand, "candid": candid, "publisher": "ATLAS",
                   "objectId": oid,
                   "cutoutScience": {"fileName": candid + "_istamp.fits", "stampData": CUTOUT},
                   "cutoutDifference": {"fileName": candid + "_dstamp.fits", "stampData": CUTOUT}}
            write(os.path.join(out, f"{candid}.avro"), ATLAS, rec)
            ids.append(int(candid))
            points.setdefault(oid, []).append([t, band, mag, "detection"])
            n += 1
    return {"alerts": n, "objects": objects, "datapoints": len(ids), "ids": ids, "unnamed": 0,
            "points": points}


# ---------------------------------------------------------------- DECam
DECAM_FP = {
    "namespace": "decam.alert", "type": "record", "name": "fp_hist",
    "fields": [
        {"name": "mjd", "type": "double"},
        {"name": "band", "type": "string"},
        {"name": "forcediffimflux", "type": "double"},
        {"name": "forcediffimfluxunc", "type": "double"},
        {"name": "forcediffimmag", "type": ["null", "double"], "default": None},
        {"name": "forcediffimmagunc", "type": ["null", "double"], "default": None},
        {"name": "diffmaglim", "type": "double"},
    ],
}
DECAM = {
    "namespace": "decam", "type": "record", "name": "alert",
    "fields": [
        {"name": "publisher", "type": "string"},
        {"name": "objectId", "type": "string"},
        {"name": "candid", "type": "long"},
        {"name": "candidate", "type": {
            "namespace": "decam.alert", "type": "record", "name": "candidate",
            "fields": DECAM_FP["fields"] + [{"name": "ra", "type": "double"},
                                           {"name": "dec", "type": "double"}]}},
        {"name": "fp_hists", "type": {"type": "array", "items": DECAM_FP}},
        {"name": "cutoutScience", "type": "bytes"},
        {"name": "cutoutTemplate", "type": "bytes"},
        {"name": "cutoutDifference", "type": "bytes"},
    ],
}


def decam_fp(rng, t, band, t0, peak):
    mag = bazin(t, t0, peak)
    flux = 10 ** (-0.4 * (mag - 31.4)) + rng.gauss(0, 40.0)  # nJy-like, noise 40
    unc = 40.0
    rec = {"mjd": t, "band": band, "forcediffimflux": flux, "forcediffimfluxunc": unc,
           "forcediffimmag": None, "forcediffimmagunc": None, "diffmaglim": 23.5}
    if flux > 3 * unc:
        rec["forcediffimmag"] = round(31.4 - 2.5 * math.log10(flux), 4)
        rec["forcediffimmagunc"] = round(1.0857 * unc / flux, 4)
    return rec


def decam(rng, out):
    objects, points, ids = [], {}, []
    n, forced = 0, set()
    for k in range(2):
        oid = f"T2023102{k}2246005m00252{k}"
        objects.append(oid)
        t0, peak = 60240.0 + 2 * k, 21.0 + 0.4 * k
        eps = epochs(rng, t0 - 25, 14, ["g", "r", "i"], step=1.5)
        fps = [decam_fp(rng, t, b, t0, peak) for t, b in eps]
        alert_at = [i for i, fp in enumerate(fps) if fp["forcediffimmag"] is not None][:5]
        for i in alert_at:
            candid = 5000000 + 100 * k + i
            cand = dict(fps[i], ra=150.1 + k, dec=2.2)
            rec = {"publisher": "DESIRT", "objectId": oid, "candid": candid, "candidate": cand,
                   "fp_hists": fps[:i], "cutoutScience": CUTOUT, "cutoutTemplate": CUTOUT,
                   "cutoutDifference": CUTOUT}
            write(os.path.join(out, f"{candid}.avro"), DECAM, rec)
            ids.append(candid)
            forced.update(json.dumps(fp, sort_keys=True) for fp in fps[:i])
            n += 1
        last = alert_at[-1]
        points[oid] = [[fp["mjd"], fp["band"], fp["forcediffimmag"],
                        "forced" if fp["forcediffimmag"] is not None else "limit"]
                       for fp in fps[:last]]
        points[oid] += [[fps[i]["mjd"], fps[i]["band"], fps[i]["forcediffimmag"], "detection"]
                        for i in alert_at]
        # time order; at one time the forced measurement (a negative id) first
        points[oid].sort(key=lambda p: (p[0], p[3] == "detection"))
    return {"alerts": n, "objects": objects, "datapoints": len(ids) + len(forced), "ids": ids,
            "unnamed": len(forced), "points": points}


# ---------------------------------------------------------------- WINTER
WINTER_PRV = {
    "namespace": "winter.alert", "name": "prv_candidate", "type": "record",
    "fields": [
        {"name": "candid", "type": ["long", "null"]},
        {"name": "progname", "type": "string"},
        {"name": "jd", "type": "double"},
        {"name": "fid", "type": "int"},
        {"name": "isdiffpos", "type": "boolean"},
        {"name": "fieldid", "type": "int"},
        {"name": "ra", "type": "double"},
        {"name": "dec", "type": "double"},
        {"name": "magpsf", "type": "float"},
        {"name": "sigmapsf", "type": "float"},
        {"name": "fwhm", "type": ["float", "null"]},
        {"name": "scorr", "type": ["double", "null"]},
    ],
}
WINTER_CAND = {
    "namespace": "winter.alert", "type": "record", "name": "candidate",
    "fields": [
        {"name": "candid", "type": "long"},
        {"name": "deprecated", "type": "boolean", "default": False},
        {"name": "jd", "type": "double"},
        {"name": "fid", "type": "int"},
        {"name": "exptime", "type": "float"},
        {"name": "ndethist", "type": "int", "default": 1},
        {"name": "jdstarthist", "type": "double"},
        {"name": "jdendhist", "type": "double"},
        {"name": "progname", "type": "string"},
        {"name": "programid", "type": "int"},
        {"name": "isdiffpos", "type": "boolean"},
        {"name": "fieldid", "type": "int"},
        {"name": "boardid", "type": "int"},
        {"name": "ra", "type": "double"},
        {"name": "dec", "type": "double"},
        {"name": "magzpsci", "type": ["float", "null"]},
        {"name": "diffmaglim", "type": ["float", "null"]},
        {"name": "magpsf", "type": "float"},
        {"name": "sigmapsf", "type": "float"},
        {"name": "rb", "type": ["float", "null"]},
        {"name": "rbversion", "type": ["string", "null"]},
        {"name": "tooflag", "type": "boolean", "default": False},
        {"name": "nmtchps", "type": "int"},
        {"name": "nmtchtm", "type": "int"},
    ],
}
WINTER = {
    "namespace": "winter", "type": "record", "name": "alert",
    "doc": "avro alert schema for WINTER",
    "fields": [
        {"name": "schemavsn", "type": "string", "default": "0.4"},
        {"name": "publisher", "type": "string", "default": "WINTER-mirar"},
        {"name": "objectid", "type": "string"},
        {"name": "candid", "type": "long"},
        {"name": "candidate", "type": WINTER_CAND},
        {"name": "prv_candidates", "type": [{"type": "array", "items": WINTER_PRV}, "null"]},
        {"name": "cutoutScience", "type": "bytes"},
        {"name": "cutoutTemplate", "type": "bytes"},
        {"name": "cutoutDifference", "type": "bytes"},
    ],
}
WINTER_BANDS = {1: "Y", 2: "J", 3: "Hs"}


def winter(rng, out):
    objects, points, ids = [], {}, []
    n = 0
    for k in range(3):
        name = "WNTR24aaa" + "abc"[k] + "b"
        objects.append(name)
        jd0 = 2460400.5 + 4 * k
        dets = []
        for i, (t, fid) in enumerate(epochs(rng, jd0 - 10, 7, [2, 1, 3])):
            mag = round(bazin(t, jd0, 15.8 + 0.2 * k) + rng.gauss(0, 0.02), 4)
            dets.append({"candid": 9100000 + 100 * k + i, "jd": t, "fid": fid, "magpsf": mag,
                         "sigmapsf": 0.04})
        for i, d in enumerate(dets):
            cand = {"candid": d["candid"], "deprecated": False, "jd": d["jd"], "fid": d["fid"],
                    "exptime": 120.0, "ndethist": i + 1, "jdstarthist": dets[0]["jd"],
                    "jdendhist": d["jd"], "progname": "2024A000", "programid": 1,
                    "isdiffpos": True, "fieldid": 3001, "boardid": 2, "ra": 200.1 + k,
                    "dec": 30.2, "magzpsci": 24.1, "diffmaglim": 17.9, "magpsf": d["magpsf"],
                    "sigmapsf": d["sigmapsf"], "rb": 0.8, "rbversion": "v1", "tooflag": False,
                    "nmtchps": 2, "nmtchtm": 1}
            prv = [{"candid": p["candid"], "progname": "2024A000", "jd": p["jd"], "fid": p["fid"],
                    "isdiffpos": True, "fieldid": 3001, "ra": 200.1 + k, "dec": 30.2,
                    "magpsf": p["magpsf"], "sigmapsf": p["sigmapsf"], "fwhm": 2.1, "scorr": 9.0}
                   for p in dets[:i]]
            rec = {"schemavsn": "0.4", "publisher": "WINTER-mirar", "objectid": name,
                   "candid": d["candid"], "candidate": cand, "prv_candidates": prv or None,
                   "cutoutScience": CUTOUT, "cutoutTemplate": CUTOUT, "cutoutDifference": CUTOUT}
            write(os.path.join(out, f"{d['candid']}.avro"), WINTER, rec)
            n += 1
        ids.extend(d["candid"] for d in dets)
        # float32 in the packet: the magnitudes read back are the rounded floats
        points[name] = [[d["jd"] - 2400000.5, WINTER_BANDS[d["fid"]], d["magpsf"], "detection"]
                        for d in dets]
    return {"alerts": n, "objects": objects, "datapoints": len(ids), "ids": ids, "unnamed": 0,
            "points": points}


# ---------------------------------------------------------------- ELAsTiCC
E_SOURCE = {
    "namespace": "elasticc.v0_9", "name": "diaSource", "type": "record",
    "fields": [
        {"name": "diaSourceId", "type": "long"},
        {"name": "ccdVisitId", "type": "long"},
        {"name": "diaObjectId", "type": ["null", "long"], "default": None},
        {"name": "parentDiaSourceId", "type": ["null", "long"], "default": None},
        {"name": "midPointTai", "type": "double"},
        {"name": "filterName", "type": "string"},
        {"name": "ra", "type": "double"},
        {"name": "decl", "type": "double"},
        {"name": "psFlux", "type": "float"},
        {"name": "psFluxErr", "type": "float"},
        {"name": "snr", "type": "float"},
        {"name": "nobs", "type": ["null", "float"], "default": None},
    ],
}
E_FORCED = {
    "namespace": "elasticc.v0_9", "name": "diaForcedSource", "type": "record",
    "fields": [
        {"name": "diaForcedSourceId", "type": "long"},
        {"name": "ccdVisitId", "type": "long"},
        {"name": "diaObjectId", "type": "long"},
        {"name": "midPointTai", "type": "double"},
        {"name": "filterName", "type": "string"},
        {"name": "psFlux", "type": "float"},
        {"name": "psFluxErr", "type": "float"},
        {"name": "totFlux", "type": "float"},
        {"name": "totFluxErr", "type": "float"},
    ],
}
E_OBJECT = {
    "namespace": "elasticc.v0_9", "name": "diaObject", "type": "record",
    "fields": [
        {"name": "diaObjectId", "type": "long"},
        {"name": "simVersion", "type": ["null", "string"]},
        {"name": "ra", "type": "double"},
        {"name": "decl", "type": "double"},
        {"name": "mwebv", "type": ["null", "float"], "default": None},
        {"name": "mwebv_err", "type": ["null", "float"], "default": None},
        {"name": "z_final", "type": ["null", "float"], "default": None},
        {"name": "z_final_err", "type": ["null", "float"], "default": None},
    ],
}
ELASTICC = {
    "namespace": "elasticc.v0_9", "type": "record", "name": "alert",
    "doc": "sample avro alert schema v4.1",
    "fields": [
        {"name": "alertId", "type": "long"},
        {"name": "diaSource", "type": E_SOURCE},
        {"name": "prvDiaSources", "type": ["null", {"type": "array",
                                                    "items": "elasticc.v0_9.diaSource"}],
         "default": None},
        {"name": "prvDiaForcedSources", "type": ["null", {"type": "array", "items": E_FORCED}],
         "default": None},
        {"name": "diaObject", "type": ["null", E_OBJECT], "default": None},
    ],
}


def elasticc(rng, out):
    objects, points, ids = [], {}, []
    n, forced_ids = 0, set()
    for k in range(3):
        obj = 1000000 + 17 * k
        objects.append(str(obj))
        t0, peak = 60600.0 + 5 * k, 21.5 + 0.3 * k
        srcs, fps = [], []
        for i, (t, band) in enumerate(epochs(rng, t0 - 20, 10, ["g", "r", "i"])):
            mag = bazin(t, t0, peak)
            flux = 10 ** (-0.4 * (mag - 27.5)) + rng.gauss(0, 20.0)
            err = 20.0
            fps.append({"diaForcedSourceId": 7000000 + 100 * k + i, "ccdVisitId": 88 + i,
                        "diaObjectId": obj, "midPointTai": t, "filterName": band,
                        "psFlux": flux, "psFluxErr": err, "totFlux": flux, "totFluxErr": err})
            if flux > 5 * err:
                srcs.append({"diaSourceId": 6000000 + 100 * k + i, "ccdVisitId": 88 + i,
                             "diaObjectId": obj, "parentDiaSourceId": None, "midPointTai": t,
                             "filterName": band, "ra": 52.1 + k, "decl": -27.9,
                             "psFlux": flux, "psFluxErr": err, "snr": flux / err, "nobs": None})
        for j, s in enumerate(srcs):
            prior = [f for f in fps if f["midPointTai"] < s["midPointTai"]]
            rec = {"alertId": 8000000 + 100 * k + j, "diaSource": s,
                   "prvDiaSources": srcs[:j] or None, "prvDiaForcedSources": prior or None,
                   "diaObject": {"diaObjectId": obj, "simVersion": "ELAsTiCC-test",
                                 "ra": 52.1 + k, "decl": -27.9, "mwebv": 0.01,
                                 "mwebv_err": 0.001, "z_final": 0.1, "z_final_err": 0.01}}
            write(os.path.join(out, f"{rec['alertId']}.avro"), ELASTICC, rec)
            forced_ids.update(f["diaForcedSourceId"] for f in prior)
            n += 1
        ids.extend(s["diaSourceId"] for s in srcs)
        def mag(flux):
            # the supplier gives a magnitude from a flux only at S/N >= 3
            return 27.5 - 2.5 * math.log10(flux) if flux >= 3 * 20.0 else None

        shown = [[s["midPointTai"], s["filterName"], mag(s["psFlux"]), "detection"] for s in srcs]
        shown += [[f["midPointTai"], f["filterName"], mag(f["psFlux"]), "forced"] for f in fps
                  if f["diaForcedSourceId"] in forced_ids]
        # time order; at one time the forced measurement (a negative id) first
        points[str(obj)] = sorted(shown, key=lambda p: (p[0], p[3] == "detection"))
    ids.extend(-i for i in sorted(forced_ids))
    return {"alerts": n, "objects": objects, "datapoints": len(ids), "ids": ids, "unnamed": 0,
            "points": points}


def main():
    job = json.load(sys.stdin)
    result = {}
    for name, fn in [("atlas", atlas), ("decam", decam), ("winter", winter),
                     ("elasticc", elasticc)]:
        out = os.path.join(job["out"], name)
        os.makedirs(out, exist_ok=True)
        r = fn(random.Random(name), out)
        r["dir"] = out
        result[name] = r
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
