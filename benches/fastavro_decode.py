#!/usr/bin/env python3
"""Time fastavro decoding of a replay stream (the reference for the T0 benchmark).

    /tmp/pyampel/bin/python benches/fastavro_decode.py /tmp/replay.avro
"""
import sys
import time

import fastavro

t = time.perf_counter()
n = 0
with open(sys.argv[1], "rb") as fh:
    for _ in fastavro.reader(fh):
        n += 1
s = time.perf_counter() - t
print(f"fastavro {fastavro.__version__}: decoded {n} alerts in {s:.2f} s = {n / s:.0f} alerts/s")
