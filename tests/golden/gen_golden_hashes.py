#!/usr/bin/env python3
"""Generate tests/fixtures/golden-hashes.json by running Python AMPEL itself.

Rerun with:
    python3 -m venv /tmp/pyampel && /tmp/pyampel/bin/pip install ampel-core xxhash
    /tmp/pyampel/bin/python tests/golden/gen_golden_hashes.py > tests/fixtures/golden-hashes.json

- config: ampel.util.hash.build_unsafe_dict_id (what AMPEL uses for T2 config ids)
- link:   the T1Compiler formula (signed xxh32, seed 0, sorted ids packed '>q')
- trace:  build_unsafe_dict_id({config, digest, unit, version}) (hash scheme v1)
- t2_doc_id: sha256 over compact JSON [stock, unit, config, link], first 16 bytes
"""
import hashlib
import json
import struct
import sys

import xxhash
from ampel.util.hash import build_unsafe_dict_id
from importlib.metadata import version

CONFIGS = [
    {},
    {"min_ndet": 2},
    {"min_ndet": 2, "min_tspan": 0.02, "max_tspan": 25.0, "min_rb": 0.3},
    {"b": 2, "a": 1, "c": {"b": 3, "a": [1, 4]}},
    {"a-x": 1, "a": {"b": [1, {"d": 1, "a": {"z": 1, "a-y": 2}}]}},
    {"l": list(range(12)), "nested": [[1, 2], [3, [4, 5]]], "empty": {}, "none": []},
    {"floats": [0.1, 1e-05, 1e16, 1e15, 123456.789, -0.0, 2.0, 1.5e-07, 2459000.5]},
    {"flags": [True, False, None], "name": "caf\u00e9 \u2603 \U0001F600", "q": "a\"b\\c\nd\t"},
    {"criteria": [{"attribute": "magpsf", "operator": "<", "value": 18.5},
                  {"attribute": "isdiffpos", "operator": "in", "value": ["t", "1"]}],
     "combine": "all"},
    {"dicts": [{"z": 1}, {"b": {"y": 2, "a-b": 1}, "a": 0}, {"b": 1}], "mixed": ["b", 2, "a", 1.5, None, True, "it's", "say \"hi\""]},
    {"T2": [{"unit": "T2LightCurveSummary", "config": {"bands": ["r", "g"]}}, {"unit": "T2Fit", "config": None}]},
    {"big": 9007199254740993, "neg": -42, "unsigned": 18446744073709551615},
]

LINKS = [
    [1],
    [3, 1, 2],
    [1, 2, 3],
    [1135104880815015000, 1135181440815015001, -1142509810815015147],
    [-1, 0, 1, 2**63 - 1, -(2**63)],
    list(range(100)),
]

TRACES = [
    ("SimpleDecentFilter", "0.1.0", "0123456789abcdef", {"min_ndet": 2, "min_rb": 0.3}),
    ("T2LightCurveSummary", "1.2.3", "fedcba9876543210", {}),
]

T2_IDS = [
    (123456789, "T2LightCurveSummary", -8986814508490313900, -1598839022),
    (-5, "T2Fit", None, -5),
]


def link(ids):
    ids = sorted(ids)
    i = xxhash.xxh32_intdigest(struct.pack(f">{len(ids)}q", *ids), 0)
    return i - 2**32 if i & (1 << 31) else i


out = {
    "generator": "tests/golden/gen_golden_hashes.py",
    "ampel_interface": version("ampel-interface"), "ampel_core": version("ampel-core"),
    "config": [{"input": c, "hash": build_unsafe_dict_id(c)} for c in CONFIGS],
    "link": [{"dps": d, "hash": link(d)} for d in LINKS],
    "trace": [
        {"unit": u, "version": v, "digest": d, "config": c,
         "id": build_unsafe_dict_id({"config": c, "digest": d, "unit": u, "version": v})}
        for (u, v, d, c) in TRACES
    ],
    "t2_doc_id": [
        {"stock": s, "unit": u, "config": c, "link": l,
         "id": hashlib.sha256(json.dumps([s, u, c, l], separators=(",", ":"),
                                         ensure_ascii=False).encode()).hexdigest()[:32]}
        for (s, u, c, l) in T2_IDS
    ],
}
json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
