"""The MongoDB-compatible server the test harness starts: mongoeco 4.11.0, adapted.

No mongod can be installed on the machines this project is tested on (Debian, PyPI
and npm only ship packages that download mongod at run time). The most faithful
server that can be had is mongoeco, a MongoDB engine with a wire-protocol server
(it reports MongoDB 7.0, standalone). This launcher pins its version and closes the
gaps between it and mongod that the Rust `mongodb` driver and Python AMPEL hit, so
that the tests keep asserting mongod's documented behaviour:

1. Command arguments that mongod accepts as Int64 (`limit`, `skip`, `batchSize`,
   `getMore`, `maxTimeMS`, `killCursors.cursors`) are rejected by mongoeco; the Rust
   driver sends them as Int64. They are converted to plain ints before dispatch.
2. Cursor ids go back as Int32, which the driver cannot read (mongod sends Int64):
   `cursor.id` is sent as Int64.
3. Some error replies lack `code` (mongod always sends one): code 2 (BadValue) is
   added to those, and a failed authentication gets mongod's 18
   (AuthenticationFailed). Users authenticate with SCRAM-SHA-256 (mongoeco's
   SCRAM-SHA-1 fails on correct passwords), and `hello` names that mechanism in
   `saslSupportedMechs` as mongod does (else drivers fall back to SCRAM-SHA-1).
4. The aggregation expressions `$not` and `$last` (MongoDB 4.4+) are missing
   (code 168); Python AMPEL's T2 worker claims tickets with both. They are
   registered through mongoeco's expression-extension API with mongod's semantics.

Usage (one server per test process; it exits when the parent process is gone):

    python mongoeco_server.py [--port N] [--storage memory|FILE.sqlite]
                              [--user NAME:PASSWORD] [--parent-pid PID]

Once listening it prints one line `ready mongodb://127.0.0.1:PORT/?directConnection=true`
on stdout. It stops on SIGTERM or SIGINT, and when `--parent-pid` no longer runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

PINNED = "4.11.0"

import mongoeco  # noqa: E402

if mongoeco.__version__ != PINNED:
    sys.exit(f"mongoeco_server: mongoeco {PINNED} is required, found {mongoeco.__version__}")

from bson.int64 import Int64  # noqa: E402
from mongoeco.core.aggregation.extensions import (  # noqa: E402
    register_aggregation_expression_operator,
)
from mongoeco.core.bson_scalars import BsonInt64  # noqa: E402
from mongoeco.errors import OperationFailure  # noqa: E402
from mongoeco.wire import proxy as wire_proxy  # noqa: E402
from mongoeco.wire.handshake import WireHandshakeService  # noqa: E402
from mongoeco.wire.protocol import OpMsgRequest  # noqa: E402

INT_ARGUMENTS = ("limit", "skip", "batchSize", "getMore", "maxTimeMS")


def _plain_int(value):
    if isinstance(value, BsonInt64):
        return int(value.value)
    if isinstance(value, Int64):
        return int(value)
    return value


def _fix_request(body):
    """Fix 1: Int64 command arguments as ints."""
    for key in INT_ARGUMENTS:
        if key in body:
            body[key] = _plain_int(body[key])
    if "killCursors" in body and isinstance(body.get("cursors"), list):
        body["cursors"] = [_plain_int(c) for c in body["cursors"]]
    return body


def _fix_reply(document):
    """Fixes 2 and 3: cursor ids as Int64, a code on every error reply."""
    cursor = document.get("cursor")
    if isinstance(cursor, dict) and "id" in cursor:
        cursor["id"] = Int64(int(_plain_int(cursor["id"])))
    if document.get("ok") in (0, 0.0):
        if document.get("errmsg") == "Authentication failed":
            # mongod: 18 AuthenticationFailed (mongoeco sends none, or 2)
            document["code"] = 18
            document["codeName"] = "AuthenticationFailed"
        elif "code" not in document:
            document["code"] = 2
            document.setdefault("codeName", "BadValue")
    return document


_decode = wire_proxy.decode_op_msg
_encode = wire_proxy.encode_op_msg_response


def decode_op_msg(header, payload):
    request = _decode(header, payload)
    return OpMsgRequest(
        header=request.header, flag_bits=request.flag_bits, body=_fix_request(request.body)
    )


def encode_op_msg_response(document, *, request_id, response_to):
    return _encode(_fix_reply(document), request_id=request_id, response_to=response_to)


wire_proxy.decode_op_msg = decode_op_msg
wire_proxy.encode_op_msg_response = encode_op_msg_response


# Fix 4: `$not` and `$last` as aggregation expressions, as mongod evaluates them.
def _truthy(value, missing):
    # mongod: false, null, 0 and undefined/missing are false; everything else true
    if value is missing or value is None or value is False:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return True


def _single_arg(name, spec, ctx):
    # mongod takes a one-argument operator's operand bare or as a one-element list
    return ctx.require_expression_args(name, spec if isinstance(spec, list) else [spec], 1, 1)[0]


def _expr_not(document, spec, variables, dialect, ctx):
    arg = _single_arg("$not", spec, ctx)
    value = ctx.evaluate_expression_with_missing(document, arg, variables)
    return not _truthy(_plain_int(value), ctx.missing_sentinel)


def _expr_last(document, spec, variables, dialect, ctx):
    arg = _single_arg("$last", spec, ctx)
    value = ctx.evaluate_expression_with_missing(document, arg, variables)
    if value is ctx.missing_sentinel or value is None:
        return None
    if not isinstance(value, list):
        raise OperationFailure(
            f"$last's argument must be an array, but is {type(value).__name__}", code=28689
        )
    # mongod: no value for []; mongoeco's comparisons mishandle its missing
    # sentinel, and null compares the same (below every number and string)
    return value[-1] if value else None


# Fix 5: `hello` answers `saslSupportedMechs` for a known user, as mongod does (a
# driver that gets no answer falls back to SCRAM-SHA-1).
USERS = {}
_hello = WireHandshakeService.build_hello_response


def build_hello_response(self, *, command_name, body, connection):
    response = _hello(self, command_name=command_name, body=body, connection=connection)
    asked = body.get("saslSupportedMechs")
    if isinstance(asked, str) and asked in USERS:
        response["saslSupportedMechs"] = list(USERS[asked])
    return response


WireHandshakeService.build_hello_response = build_hello_response


register_aggregation_expression_operator("$not", _expr_not)
register_aggregation_expression_operator("$last", _expr_last)


async def serve(port: int, storage: str, user: str | None, parent_pid: int | None) -> None:
    if storage == "memory":
        from mongoeco.engines.memory import MemoryEngine

        engine = MemoryEngine()
    else:
        from mongoeco.engines.sqlite import SQLiteEngine

        engine = SQLiteEngine(storage)
    users = ()
    if user:
        from mongoeco.wire.auth import WireAuthUser

        name, _, password = user.partition(":")
        # mongoeco's SCRAM-SHA-1 (mongod's MD5-derived password) fails; a user with
        # SCRAM-SHA-256 only is what mongod 4.0+ negotiates with every driver
        users = (
            WireAuthUser(
                username=name, password=password, source="admin", mechanisms=("SCRAM-SHA-256",)
            ),
        )
        USERS[f"admin.{name}"] = ("SCRAM-SHA-256",)
    server = wire_proxy.AsyncMongoEcoProxyServer(
        engine=engine, host="127.0.0.1", port=port, auth_users=users
    )
    address = await server.start()
    print(f"ready {address.uri}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def watch_parent() -> None:
        while parent_pid is not None:
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                stop.set()
                return
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch_parent())
    await stop.wait()
    watcher.cancel()
    await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument(
        "--storage", default="memory", help="'memory' or the path of a SQLite file to keep data in"
    )
    parser.add_argument(
        "--user", help="NAME:PASSWORD of the one user (SCRAM, source admin); default: no auth"
    )
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.storage, args.user, args.parent_pid))


if __name__ == "__main__":
    main()
