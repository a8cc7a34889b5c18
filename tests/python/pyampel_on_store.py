"""Python AMPEL on a shared database (a test helper).

    python pyampel_on_store.py CONFIG URI PREFIX t0 ALERT_DIR
        Python AMPEL's AlertConsumer ingests the ZTF alerts (`*.avro`) of ALERT_DIR
        into a fresh PREFIX: two channels, CHAN_BASIC (rb > 0.3 and magpsf < 20.5)
        and CHAN_BRIGHT (magpsf < 16), both ZiT1Combiner states with a
        T2LightCurveSummary ticket; prints {"alerts": n, "counts": {collection: n},
        "channels": {channel: stocks}}.

    python pyampel_on_store.py CONFIG URI PREFIX t2 UNIT
        Python AMPEL's T2Worker processes the pending tickets of UNIT; prints
        {"codes": {code: count}} of the prefix's t2 documents afterwards.
    python pyampel_on_store.py CONFIG URI PREFIX load CHANNEL
        Python AMPEL's DB layer on the prefix: T3StockSelector selects the stocks of
        CHANNEL, DataLoader loads their stock, t0, t1 and t2 documents, and each
        becomes a TransientView with its light curve; prints what it found per stock.

CONFIG is a config built by `ampel config build`; URI the server (its path is
ignored; PREFIX is the database prefix). Runs in the Python AMPEL venv
`scripts/test` makes.
"""

import json
import sys
from collections import Counter

# Python AMPEL logs to stdout: the result goes to the real stdout, the rest to stderr
RESULT = sys.stdout
sys.stdout = sys.stderr

from ampel.dev.DevAmpelContext import DevAmpelContext  # noqa: E402
from ampel.log.AmpelLogger import AmpelLogger  # noqa: E402


def context(config, uri, prefix):
    return DevAmpelContext.load(config=config, db_prefix=prefix, custom_conf={"resource.mongo": uri})


def run_t2(ctx, unit):
    from ampel.t2.T2Worker import T2Worker

    T2Worker(context=ctx, process_name="py_t2", raise_exc=True, send_beacon=False, unit_ids=[unit]).run()
    codes = Counter(d["code"] for d in ctx.db.get_collection("t2").find({"unit": unit}))
    return {"codes": {str(k): v for k, v in sorted(codes.items())}}


def load(ctx, channel):
    from ampel.core.DataLoader import DataLoader
    from ampel.model.t3.LoaderDirective import LoaderDirective
    from ampel.t3.supply.select.T3StockSelector import T3StockSelector
    from ampel.view.TransientView import TransientView

    logger = AmpelLogger.get_logger()
    selected = [d["stock"] for d in T3StockSelector(context=ctx, logger=logger, channel=channel).fetch()]
    directives = [LoaderDirective(col=c) for c in ("stock", "t0", "t1", "t2")]
    out = {}
    for buf in DataLoader(ctx).load(selected, directives, channel=channel, logger=logger):
        view = TransientView.of(buf, ctx.config)
        stock = buf["stock"]
        lc = view.get_lightcurves()
        out[str(stock["stock"])] = {
            "name": list(stock.get("name") or []),
            "journal": len(stock.get("journal") or []),
            "t0": sorted(dp["id"] for dp in buf.get("t0") or []),
            "lightcurves": len(lc or []),
            "photopoints": sum(len(c.get_photopoints() or []) for c in lc or []),
            "t2": {d["unit"]: (d["body"][-1] if d["body"] else None) for d in buf.get("t2") or []},
        }
    return {"selected": len(selected), "stocks": out}


def criterion(attribute, op, value):
    return {"attribute": attribute, "operator": op, "value": value}


def channel(name, criteria):
    """An ingest directive: alerts whose latest detection meets `criteria`."""
    return {
        "channel": name,
        "filter": {
            "unit": "BasicMultiFilter",
            "config": {"filters": [{"criteria": criteria, "len": 1, "operator": ">="}]},
            "on_stock_match": "bypass",
        },
        "ingest": {
            "mux": {
                "unit": "ZiMongoMuxer",
                "combine": [{"unit": "ZiT1Combiner", "state_t2": [{"unit": "T2LightCurveSummary"}]}],
            }
        },
    }


def run_t0(ctx, folder):
    from ampel.alert.AlertConsumer import AlertConsumer
    from ampel.ztf.ingest.ZiCompilerOptions import ZiCompilerOptions

    for name in ("CHAN_BASIC", "CHAN_BRIGHT"):
        ctx.add_channel(name, access=["ZTF", "ZTF_PUB"])
    consumer = AlertConsumer(
        context=ctx,
        process_name="py_t0",
        raise_exc=True,
        supplier={
            "unit": "ZiAlertSupplier",
            "config": {
                "deserialize": "avro",
                "loader": {"unit": "DirAlertLoader", "config": {"folder": folder, "extension": "avro"}},
            },
        },
        shaper="ZiDataPointShaper",
        compiler_opts=ZiCompilerOptions(),
        directives=[
            channel("CHAN_BASIC", [criterion("rb", ">", 0.3), criterion("magpsf", "<", 20.5)]),
            channel("CHAN_BRIGHT", [criterion("magpsf", "<", 16)]),
        ],
    )
    alerts = consumer.run()
    counts = {c: ctx.db.get_collection(c).count_documents({}) for c in ("stock", "t0", "t1", "t2")}
    stocks = ctx.db.get_collection("stock")
    channels = {ch: stocks.count_documents({"channel": ch}) for ch in ("CHAN_BASIC", "CHAN_BRIGHT")}
    return {"alerts": alerts, "counts": counts, "channels": channels}


def main():
    config, uri, prefix, what, arg = sys.argv[1:6]
    if what == "t0":
        ctx = DevAmpelContext.load(
            config=config, db_prefix=prefix, purge_db=True, custom_conf={"resource.mongo": uri}
        )
        result = run_t0(ctx, arg)
    else:
        ctx = context(config, uri, prefix)
        result = run_t2(ctx, arg) if what == "t2" else load(ctx, arg)
    json.dump(result, RESULT, default=str)


if __name__ == "__main__":
    main()
