"""Re-write real alert packets the way brokers and archives re-write them.

Input (JSON on stdin): {"inputs": [AVRO files], "out": DIR, "id_field": NAME,
"inner": RECORD}: `id_field` is the alert-level id that is also inside the record
`inner` (ZTF: candid in candidate; Rubin 8.0+: diaSourceId in diaSource). For each
input file, four variants are written to OUT/<variant>/<file name>:

- renamed: the top record renamed `topLevelRecord` without a namespace (Spark's
  default), the named types inside unchanged;
- spark: renamed, every field of every record a nullable union ["null", T]
  (defaults null), snappy-compressed blocks: what Spark's Avro writer produces;
- extra: a field added at the top (`brokerIngestMjd`, a double) and one inside
  `inner` (`brokerNote`, a string);
- dropped: the alert-level id field removed (it is still inside `inner`).

The values are the originals' (read and written with fastavro); an input fastavro
cannot read (damaged upstream) is left out. Output (JSON on stdout): {"read":
[inputs re-written], "skipped": [inputs left out], "variants": {name: [files]}}.
"""

import copy
import json
import os
import sys

import fastavro


def nullable(schema, seen):
    """`schema` with every record field a ["null", T] union (defaults null)."""
    if isinstance(schema, dict):
        t = schema.get("type")
        if t == "record":
            name = schema.get("name")
            if name in seen:
                return name
            seen.add(name)
            out = dict(schema)
            fields = []
            for f in schema["fields"]:
                ft = nullable(f["type"], seen)
                if isinstance(ft, list):
                    if "null" not in ft:
                        ft = ["null"] + ft
                    elif ft[0] != "null":
                        ft = ["null"] + [x for x in ft if x != "null"]
                else:
                    ft = ["null", ft]
                g = {k: v for k, v in f.items() if k not in ("type", "default")}
                g["type"] = ft
                g["default"] = None
                fields.append(g)
            out["fields"] = fields
            return out
        if t == "array":
            return {**schema, "items": nullable(schema["items"], seen)}
        if t == "map":
            return {**schema, "values": nullable(schema["values"], seen)}
        return schema
    if isinstance(schema, list):
        return [nullable(s, seen) for s in schema]
    return schema


def renamed(schema):
    out = dict(schema)
    out["name"] = "topLevelRecord"
    out.pop("namespace", None)
    # named types inside keep their full names
    ns = schema.get("namespace")
    if ns:
        out = qualify(out, ns)
    return out


def qualify(schema, ns):
    """Give named types inside a namespace-less record their full names."""
    def walk(s):
        if isinstance(s, dict):
            s = dict(s)
            if s.get("type") in ("record", "enum", "fixed") and "." not in s["name"] and s["name"] != "topLevelRecord":
                s["name"] = f"{s.get('namespace', ns)}.{s['name']}"
                s.pop("namespace", None)
            if s.get("type") == "record":
                s["fields"] = [{**f, "type": walk(f["type"])} for f in s["fields"]]
            elif s.get("type") == "array":
                s["items"] = walk(s["items"])
            elif s.get("type") == "map":
                s["values"] = walk(s["values"])
            return s
        if isinstance(s, list):
            return [walk(x) for x in s]
        if isinstance(s, str) and s not in ("null", "boolean", "int", "long", "float", "double", "bytes", "string") and "." not in s:
            return f"{ns}.{s}"
        return s
    return walk(schema)


def inner_record(schema, name):
    for f in schema["fields"]:
        if f["name"] == name:
            t = f["type"]
            for cand in (t if isinstance(t, list) else [t]):
                if isinstance(cand, dict) and cand.get("type") == "record":
                    return cand
    raise SystemExit(f"no record field {name}")


job = json.load(sys.stdin)
out = {"renamed": [], "spark": [], "extra": [], "dropped": []}
read, skipped = [], []
for path in job["inputs"]:
    try:
        with open(path, "rb") as fh:
            reader = fastavro.reader(fh)
            schema = reader.writer_schema
            records = list(reader)
    except Exception:
        skipped.append(path)
        continue
    read.append(path)
    base = os.path.basename(path)
    variants = {}
    variants["renamed"] = (renamed(schema), records, "null")
    variants["spark"] = (nullable(renamed(schema), set()), records, "snappy")
    extra = copy.deepcopy(schema)
    extra["fields"].append({"name": "brokerIngestMjd", "type": "double", "default": 0.0})
    inner_record(extra, job["inner"])["fields"].append(
        {"name": "brokerNote", "type": ["null", "string"], "default": None})
    extra_recs = []
    for r in records:
        r = dict(r)
        r["brokerIngestMjd"] = 61000.5
        r[job["inner"]] = {**r[job["inner"]], "brokerNote": "re-written"}
        extra_recs.append(r)
    variants["extra"] = (extra, extra_recs, "deflate")
    if any(f["name"] == job["id_field"] for f in schema["fields"]):
        dropped = copy.deepcopy(schema)
        dropped["fields"] = [f for f in dropped["fields"] if f["name"] != job["id_field"]]
        variants["dropped"] = (dropped, [{k: v for k, v in r.items() if k != job["id_field"]} for r in records], "null")
    for name, (s, recs, codec) in variants.items():
        d = os.path.join(job["out"], name)
        os.makedirs(d, exist_ok=True)
        target = os.path.join(d, base)
        with open(target, "wb") as fh:
            fastavro.writer(fh, fastavro.parse_schema(s), recs, codec=codec)
        out[name].append(target)
json.dump({"read": read, "skipped": skipped, "variants": out}, sys.stdout)
