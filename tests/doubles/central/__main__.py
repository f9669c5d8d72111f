"""Run the Central double as a process.

Example: `python -m tests.doubles.central --port 0 --state state.json` prints the base
URL (e.g. `http://127.0.0.1:41234`) on stdout once listening, and serves until SIGTERM
or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tests.doubles.central.double import CentralDouble


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.doubles.central",
        description="ODK Central test double. Example: --port 0 --state state.json",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", help="JSON state document to load before serving")
    args = parser.parse_args(argv)

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    double = CentralDouble(host=args.host, port=args.port)
    if args.state:
        double.load_state(args.state)
    with double:
        print(double.base_url, flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
