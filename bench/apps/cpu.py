"""An ASGI app that does about 5 ms of pure-Python work per request.

It holds the GIL the whole time, so one worker serves at most ~200 req/s and a
server only goes faster by running the app on more cores at once: the cpu
scenario uses it to show parallel scaling.

The amount of work is a fixed constant, not measured at start-up, so every
server does exactly the same work per request. Re-calibrate on a new machine
with `python3.14 -m bench.apps.cpu` and update ITERATIONS.
"""

import time

from bench.apps.hello import HEADERS, Receive, Scope, Send, lifespan

# Calibrated on the project's 2-core AMD EPYC machine (python3.14): ~5 ms per call.
ITERATIONS = 173_000
TARGET_SECONDS = 0.005


def work(iterations: int = ITERATIONS) -> int:
    # Plain arithmetic in a Python loop: bytecode under the GIL, no C call that
    # could release it, and a result that depends on every step.
    total = 0
    for i in range(iterations):
        total = (total * 31 + i) % 1_000_003
    return total


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    # The result is always the same; formatting it keeps the loop from being dead code.
    body = b"%05d" % (work() % 100_000)
    headers = [HEADERS[0], (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def calibrate() -> None:
    """Print how long one request's work takes here, and the ITERATIONS for 5 ms."""
    work(ITERATIONS)  # warm up
    samples = []
    for _ in range(50):
        start = time.perf_counter()
        work(ITERATIONS)
        samples.append(time.perf_counter() - start)
    samples.sort()
    median = samples[len(samples) // 2]
    suggested = round(ITERATIONS * TARGET_SECONDS / median, -3)
    print(f"ITERATIONS={ITERATIONS}: median {median * 1000:.2f} ms per request")
    print(f"for {TARGET_SECONDS * 1000:.0f} ms use ITERATIONS = {int(suggested):_}")


if __name__ == "__main__":
    calibrate()
