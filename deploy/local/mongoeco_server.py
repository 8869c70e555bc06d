"""Run mongoeco's MongoDB wire-protocol server for the Postroom local stack.

Started by ``deploy/local/stack.sh start`` when ``POSTROOM_WITH_MONGO=1``; it serves until it
receives SIGTERM or SIGINT. The default engine is in-memory (data is lost at stop); ``--sqlite``
keeps it in a SQLite file instead.

usage: python mongoeco_server.py [--host 127.0.0.1] [--port 27017] [--sqlite PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from mongoeco.engines import MemoryEngine, SQLiteEngine
from mongoeco.wire import AsyncMongoEcoProxyServer


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=27017, help="TCP port to listen on")
    parser.add_argument("--sqlite", default=None, help="SQLite file (default: in-memory engine)")
    return parser.parse_args()


async def serve(host: str, port: int, sqlite_path: str | None) -> None:
    """Serve the wire protocol on host:port until SIGTERM or SIGINT."""
    engine = SQLiteEngine(sqlite_path) if sqlite_path else MemoryEngine()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncMongoEcoProxyServer(engine=engine, host=host, port=port) as server:
        print(f"mongoeco wire server listening: {server.address.uri}", flush=True)
        await stop.wait()
    print("mongoeco wire server stopped", flush=True)


def main() -> None:
    """Entry point."""
    args = parse_args()
    asyncio.run(serve(args.host, args.port, args.sqlite))


if __name__ == "__main__":
    main()
