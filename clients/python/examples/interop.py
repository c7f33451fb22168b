#!/usr/bin/env python3
"""Cross-language interop helper.

    interop.py submit TASK ARGS_JSON        prints the run id
    interop.py result RUN_ID [--timeout S]  prints the run's JSON result

ARGS_JSON is a JSON array of positional arguments (any other JSON value is
passed as the single argument). The broker address comes from --address or
TASKWIRE_ADDRESS (default localhost:50051).

Exit codes: 0 ok, 1 run failed or cancelled, 2 usage or RPC error, 3 timeout.
"""

from __future__ import annotations

import argparse
import json
import sys

import taskwire


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="interop.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default=None, help="broker address (default: $TASKWIRE_ADDRESS)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_submit = sub.add_parser("submit", help="submit a run and print its id")
    p_submit.add_argument("task")
    p_submit.add_argument("args_json", metavar="ARGS_JSON")
    p_result = sub.add_parser("result", help="wait for a run and print its JSON result")
    p_result.add_argument("run_id", metavar="RUN_ID")
    p_result.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    opts = parser.parse_args(argv)

    try:
        with taskwire.Client(opts.address) as client:
            if opts.command == "submit":
                try:
                    args = json.loads(opts.args_json)
                except ValueError as err:
                    print(f"ARGS_JSON is not valid JSON: {err}", file=sys.stderr)
                    return 2
                handle = client.submit(opts.task, *(args if isinstance(args, list) else [args]))
                print(handle.id)
                return 0
            result = client.result(opts.run_id, timeout=opts.timeout)
            print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
            return 0
    except taskwire.RunTimeoutError as err:
        print(str(err), file=sys.stderr)
        return 3
    except taskwire.RunError as err:
        print(str(err), file=sys.stderr)
        return 1
    except taskwire.TaskwireError as err:
        print(str(err), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
