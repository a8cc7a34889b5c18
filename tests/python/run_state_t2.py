"""Run one of Python AMPEL's state T2 units on states given as JSON (a test helper).

Reads from stdin a JSON object {"module": "ampel.ztf.t2.T2LightCurveSummary",
"unit": "T2LightCurveSummary", "config": {...}, "states": [{"stock": S, "link": L,
"dps": [{"id": ..., "body": {...}}, ...]}, ...]}, builds each state's LightCurve the
way Python AMPEL's T2 worker does (the datapoints in the state's order), runs the
unit, and prints the list of results as JSON. Runs in the venv `scripts/test`
makes for Python AMPEL (ampel-core 0.10.6a28, ampel-ztf 0.10.3a9).
"""

import importlib
import json
import sys

from ampel.log.AmpelLogger import AmpelLogger
from ampel.view.LightCurve import LightCurve


def main() -> None:
    job = json.load(sys.stdin)
    cls = getattr(importlib.import_module(job["module"]), job["unit"])
    unit = cls(logger=AmpelLogger.get_logger(), **(job.get("config") or {}))
    out = []
    for st in job["states"]:
        dps = st["dps"]
        compound = {"stock": st["stock"], "link": st["link"], "dps": [d["id"] for d in dps]}
        out.append(unit.process(LightCurve.build(compound, dps)))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
