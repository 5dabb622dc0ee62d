"""`python -m fnrunner` / `porch-fnrunner`: parse flags, start the runner, stop cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from fnrunner import runner, settings


async def _serve(options: settings.Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with runner.running(options):
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    options = settings.parse(argv)
    logging.basicConfig(level=options.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(options))


if __name__ == "__main__":
    main()
