#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""delay_relay.py - a TCP relay that holds every chunk DELAY ms in each direction.

bench/growth/run.py puts it between mara-proxy and mara-aaa to measure the cost of a distant
Diameter server (the AAA round trip grows by 2 x DELAY): this kernel has no netem, so the delay
is added here, in order, chunk by chunk. Loopback only; it stops on SIGTERM.

usage: delay_relay.py LISTEN_PORT TARGET_PORT DELAY_MS
"""
import asyncio
import signal
import sys


async def pump(reader, writer, delay):
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            # same delay for every chunk: call_later keeps their order
            loop.call_later(delay, writer.write, data)
    except (ConnectionError, asyncio.CancelledError):
        pass
    await asyncio.sleep(delay)
    writer.close()


async def main():
    listen, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000.0

    async def client(r1, w1):
        r2, w2 = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pump(r1, w2, delay), pump(r2, w1, delay))

    server = await asyncio.start_server(client, "127.0.0.1", listen)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("relay ready", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
