#!/usr/bin/env python3
"""Derive a replay stream of N ZTF alerts from the real shared alerts.

Each copy k of a real alert gets a new objectId (the name's 7 letters shifted by k in
base 26) and new candids (alert and every previous detection shifted by k * 10**9,
keeping their length), so every copy is a new object with new datapoints and the
same content. Cutouts are kept. Output: one Avro container file (null codec, 500
alerts per block), written with fastavro; or, if OUT ends with `/`, one container
file per alert named `<candid>.avro` in that directory (as on ZTF's Kafka topics).

    /tmp/pyampel/bin/python benches/make_replay.py 100000 /tmp/replay.avro
    /tmp/pyampel/bin/python benches/make_replay.py 10000 /tmp/replay-split/
"""
import copy
import glob
import os
import sys

import fastavro

N = int(sys.argv[1])
OUT = sys.argv[2]
SRC = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "alerts", "ztf", "fink-2020-v3.3", "*.avro")

alerts, schema = [], None
for f in sorted(glob.glob(SRC)):
    with open(f, "rb") as fh:
        r = fastavro.reader(fh)
        schema = schema or r.writer_schema
        alerts.extend(r)

AB = "abcdefghijklmnopqrstuvwxyz"


def rename(name, k):
    num = 0
    for c in name[5:]:
        num = num * 26 + AB.index(c)
    num = (num + k * 7919) % 26**7
    letters = []
    for _ in range(7):
        letters.append(AB[num % 26])
        num //= 26
    return name[:5] + "".join(reversed(letters))


def copies():
    for i in range(N):
        k, a = divmod(i, len(alerts))
        rec = copy.copy(alerts[a])
        shift = k * 10**9
        rec["objectId"] = rename(rec["objectId"], k)
        rec["candid"] = rec["candid"] + shift
        cand = dict(rec["candidate"])
        cand["candid"] = rec["candid"]
        rec["candidate"] = cand
        prv = []
        for p in rec["prv_candidates"] or []:
            p = dict(p)
            if p.get("candid") is not None:
                p["candid"] += shift
            else:
                # upper limits are identified by time: shift them by k microdays
                p["jd"] = p["jd"] - k * 1e-6
            prv.append(p)
        rec["prv_candidates"] = prv
        yield rec


if OUT.endswith("/"):
    os.makedirs(OUT, exist_ok=True)
    size = 0
    for rec in copies():
        path = os.path.join(OUT, f"{rec['candid']}.avro")
        with open(path, "wb") as out:
            fastavro.writer(out, schema, [rec], codec="null")
        size += os.path.getsize(path)
    print(f"wrote {N} alert files to {OUT} ({size / 1e9:.2f} GB)")
else:
    with open(OUT, "wb") as out:
        fastavro.writer(out, schema, copies(), codec="null", sync_interval=500 * 70000)
    print(f"wrote {N} alerts to {OUT} ({os.path.getsize(OUT) / 1e9:.2f} GB)")
