"""The caller's CPU for one pipelined round trip to Redis: through redis-py's client, and on a held connection.

Run by hand (not a test):

    .venv/bin/python benchmarks/redis_round_trip.py                 # 5,000 round trips each way, twice
    .venv/bin/python benchmarks/redis_round_trip.py --round-trips 20000 --commands 3

Starts a private ``redis-server`` and loads a small script. Each round trip is a pipeline of ``--commands``
EVALSHAs of it, one after the other (nothing else runs): ``client.pipeline(transaction=False).execute()`` as
redis-py offers it, then :class:`router.direct.Direct` (router/direct.py), which the router and the gateway use.
Prints the CPU time of this process and the wall time per round trip (Redis's own time is in the wall time, not
in the CPU time; the system calls are in both).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from router.direct import Direct  # noqa: E402
from router.store import connect  # noqa: E402
from tests.support import RedisServer  # noqa: E402

SCRIPT = "return {'ok', ARGV[1], ''}"  # the shape of the routing scripts' replies


async def main(round_trips: int, commands: int, repeat: int) -> None:
    server = RedisServer.start(Path(tempfile.mkdtemp(prefix="omniroute-rt-")) / "redis", "--save", "")
    client = await connect(server.url)
    try:
        sha = await client.script_load(SCRIPT)
        batch = [("EVALSHA", sha, 0, f"contact-{i}") for i in range(commands)]
        direct = Direct(client)

        async def through_client() -> None:
            pipe = client.pipeline(transaction=False)
            for command in batch:
                pipe.execute_command(*command)
            await pipe.execute(raise_on_error=False)

        async def held() -> None:
            await direct.execute(batch)

        print(f"redis_round_trip: {round_trips} round trips of {commands} EVALSHA each, {repeat} times each way")
        for _ in range(repeat):
            for label, once in (("redis-py pipeline", through_client), ("held connection (Direct)", held)):
                await once()  # connected, script cached
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for _ in range(round_trips):
                    await once()
                cpu = (time.process_time() - cpu0) / round_trips * 1e6
                wall = (time.perf_counter() - wall0) / round_trips * 1e6
                print(f"  {label:26} {cpu:6.1f} us CPU, {wall:6.1f} us wall per round trip")
    finally:
        await client.aclose()
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=5000)
    parser.add_argument("--commands", type=int, default=1, help="EVALSHAs per round trip (default 1)")
    parser.add_argument("--repeat", type=int, default=2, help="times each way, alternating (default 2)")
    args = parser.parse_args()
    asyncio.run(main(args.round_trips, args.commands, args.repeat))
