#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""delay_relay.py - a TCP relay that holds every chunk DELAY ms in each direction and, with
RATE, passes at most RATE bytes/s each way (what it cannot pass yet waits in its queue).

bench/growth/run.py puts it between mara-proxy and mara-aaa to measure the cost of a distant
Diameter server (the AAA round trip grows by 2 x DELAY): this kernel has no netem, so the delay
is added here, in order, chunk by chunk. tests/integration/overload.sh uses RATE to make the AAA
path the bottleneck of the whole system (an AAA of known, small capacity). Loopback only; it
stops on SIGTERM.

usage: delay_relay.py LISTEN_PORT TARGET_PORT DELAY_MS [RATE_BYTES_PER_S]
"""
import asyncio
import signal
import sys


async def pump(reader, writer, delay, rate):
    loop = asyncio.get_running_loop()
    free_at = loop.time()  # when the (rate-limited) link is free again
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            start = max(loop.time(), free_at)
            if rate:
                free_at = start + len(data) / rate
            # the same delay for every chunk, and start times never go back: order is kept
            loop.call_at(start + delay, writer.write, data)
    except (ConnectionError, asyncio.CancelledError):
        pass
    await asyncio.sleep(delay)
    writer.close()


async def main():
    listen, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000.0
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0

    async def client(r1, w1):
        r2, w2 = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pump(r1, w2, delay, rate), pump(r2, w1, delay, rate))

    server = await asyncio.start_server(client, "127.0.0.1", listen)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("relay ready", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
