"""What one `put_blob` and one `get_blob` cost on the SQLite store, by size, for a blob kept
inside the database (`small_blobs`) and one kept as a file: the measurement behind the default
of `POSTROOM_STORE_SMALL_BLOB_MAX_BYTES`.

CPU is this process's own (user + system, every thread, `time.process_time`), so the figure
holds on a busy machine; the WAL's automatic checkpoints run inside the committing call and
are counted in. Every put stores new bytes, as every mail does.

    .venv/bin/python bench/bench_blobs.py [--puts 300] [--sizes 4096,16384,...]
"""

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from postroom_shared.store import StoreOptions, open_store

SIZES = [4_096, 16_384, 65_536, 262_144, 1_048_576]


async def _measure(root: Path, *, inside: bool, size: int, puts: int) -> tuple[float, float]:
    """(put, get) CPU ms per call."""
    limit = 16_777_216 if inside else 0
    options = StoreOptions(small_blob_max_bytes=limit)
    store = await open_store(f"sqlite:///{root / 'db' / 'postroom.db'}", options)
    try:
        datas = [os.urandom(size) for _ in range(puts)]
        started = time.process_time()
        refs = [await store.put_blob(data) for data in datas]
        put_ms = (time.process_time() - started) * 1000 / puts
        started = time.process_time()
        for ref in refs:
            await store.get_blob(ref)
        get_ms = (time.process_time() - started) * 1000 / puts
    finally:
        await store.close()
    return put_ms, get_ms


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--puts", type=int, default=300)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    print(f"CPU ms per call, {args.puts} new blobs per size (SQLite store, WAL)")
    print(f"{'size':>10} {'put row':>9} {'put file':>9} {'get row':>9} {'get file':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="pr-bench-blobs-") as row_dir:
            row = await _measure(Path(row_dir), inside=True, size=size, puts=args.puts)
        with tempfile.TemporaryDirectory(prefix="pr-bench-blobs-") as file_dir:
            file = await _measure(Path(file_dir), inside=False, size=size, puts=args.puts)
        print(f"{size:>10} {row[0]:>9.3f} {file[0]:>9.3f} {row[1]:>9.3f} {file[1]:>9.3f}")


if __name__ == "__main__":
    asyncio.run(main())
