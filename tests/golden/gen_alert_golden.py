#!/usr/bin/env python3
"""Generate tests/fixtures/alerts-golden.json from the shared real alerts, by running
fastavro (an independent Avro decoder) and Python AMPEL's ZTF units themselves.

Rerun with:
    python3 -m venv /tmp/pyampel
    /tmp/pyampel/bin/pip install ampel-ztf fastavro lsst-alert-packet
    /tmp/pyampel/bin/python tests/golden/gen_alert_golden.py tests/data/alerts > tests/fixtures/alerts-golden.json

Per ZTF alert: candid, objectId, the stock id (ZTFIdMapper.to_ampel_id), and the
datapoints ZiAlertSupplier + ZiDataPointShaper produce (ids, tags, upper-limit
bodies), plus the T1 link of all of them (T1Compiler's formula). Per Rubin alert:
diaSourceId, diaObjectId and history lengths. Damaged files are listed with
fastavro's error.
"""
import gzip
import io
import json
import os
import struct
import sys
import tarfile
from importlib.metadata import version

import fastavro
import xxhash
from ampel.ztf.alert.ZiAlertSupplier import ZiAlertSupplier
from ampel.ztf.ingest.ZiDataPointShaper import ZiDataPointShaper
from ampel.log.AmpelLogger import AmpelLogger
from ampel.ztf.util.ZTFIdMapper import to_ampel_id

ROOT = sys.argv[1]
SHAPER = ZiDataPointShaper(logger=AmpelLogger.get_logger())


def link(ids):
    ids = sorted(ids)
    i = xxhash.xxh32_intdigest(struct.pack(f">{len(ids)}q", *ids), 0)
    return i - 2**32 if i & (1 << 31) else i


def ztf_facts(rec):
    alert = ZiAlertSupplier.shape_alert_dict(rec)
    dps = SHAPER.process([dict(d) for d in alert.datapoints], alert.stock)
    ids = [dp["id"] for dp in dps]
    return {
        "candid": rec["candid"],
        "objectId": rec["objectId"],
        "stock": alert.stock,
        "magpsf": rec["candidate"]["magpsf"],
        "n_prv": len(rec["prv_candidates"] or []),
        "dp_ids": ids,
        "dp_tags": [sorted(dp["tag"]) for dp in dps],
        "upper_limits": [dp["body"] for dp in dps if dp["id"] < 0],
        "link": link(ids),
    }


def rubin_facts(rec):
    return {
        "diaSourceId": rec["diaSourceId"],
        # the stock: diaObjectId, else ssObjectId for solar-system sources
        "stock": (rec["diaObject"] or {}).get("diaObjectId") or rec["diaSource"].get("diaObjectId")
        or rec["diaSource"].get("ssObjectId"),
        "midpointMjdTai": rec["diaSource"]["midpointMjdTai"],
        "n_prv_sources": len(rec["prvDiaSources"] or []),
        "n_prv_forced": len(rec["prvDiaForcedSources"] or []),
    }


def rubin_schema():
    import lsst.alert.packet
    return lsst.alert.packet.Schema.from_file(
        os.path.join(os.path.dirname(lsst.alert.packet.__file__), "schema", "9", "0", "lsst.v9_0.alert.avsc")
    ).definition


def records(name, data):
    if data[:1] == b"\x00":
        sid = struct.unpack(">I", data[1:5])[0]
        assert sid == 900, sid
        return [fastavro.schemaless_reader(io.BytesIO(data[5:]), fastavro.parse_schema(rubin_schema()))]
    return list(fastavro.reader(io.BytesIO(data)))


def members(path):
    if os.path.isdir(path):
        for f in sorted(os.listdir(path)):
            yield from members(os.path.join(path, f))
    elif path.endswith("gz"):
        with tarfile.open(path, "r:gz") as t:
            for m in t.getmembers():
                if m.isfile():
                    yield f"{path}:{m.name}", t.extractfile(m).read()
    else:
        with open(path, "rb") as fh:
            yield path, fh.read()


out = {"generator": "tests/golden/gen_alert_golden.py", "fastavro": version("fastavro"),
       "ampel_ztf": version("ampel-ztf"), "folders": {}}
for folder in ["ztf/fink-2020-v3.3", "ztf/fink-2019-v3.1", "ztf/ampel-2018-v1.8",
               "ztf/ampel-2018-tarballs/recent_alerts.tar.gz", "ztf/ampel-2018-tarballs/tar.tst.gz",
               "ztf/boom-v4.02", "lsst/fink-rubin-v9.0", "lsst/boom-confluent-v9.0"]:
    alerts, damaged = [], []
    for name, data in members(os.path.join(ROOT, folder)):
        rel = os.path.relpath(name.split(":")[0], ROOT) + ("" if ":" not in name else ":" + name.split(":", 1)[1])
        try:
            recs = records(name, data)
        except Exception as e:  # noqa: BLE001 - damaged upstream files
            damaged.append({"file": rel, "error": f"{type(e).__name__}: {e}"})
            continue
        for r in recs:
            facts = rubin_facts(r) if folder.startswith("lsst") else ztf_facts(r)
            alerts.append({"file": rel, **facts})
    out["folders"][folder] = {"alerts": alerts, "damaged": damaged}
json.dump(out, sys.stdout, indent=None, separators=(",", ":"))
sys.stdout.write("\n")
