#!/usr/bin/env python3
"""Interop check with a WebSocket client nobody here wrote: Debian's
python3-websockets (10.x asyncio API). Connects to the URL given as argv[1]
(wss:// trusting the CA file in argv[2], or ws://), exchanges text, 64 KiB of
binary and a ping, closes cleanly with 1000, and prints one JSON object.
Exit status 0 when every step ran, 1 otherwise (the JSON then has "error").
"""
import asyncio
import json
import os
import ssl
import sys

import websockets

# Every deadline below is stretched by the tests' WSSD_TEST_TIMEOUT_FACTOR
# (test/helpers/timeouts.ts has already refused a bad value).
TIMEOUT = 5 * float(os.environ.get("WSSD_TEST_TIMEOUT_FACTOR", "1"))


async def run(url: str, ca_file: str) -> dict:
    result: dict = {"websockets_version": websockets.__version__}
    context = None
    extra = {}
    if url.startswith("wss://"):
        context = ssl.create_default_context(cafile=ca_file)
        # The URL names 127.0.0.1; the dev certificate is checked for "localhost".
        extra["server_hostname"] = "localhost"
    async with websockets.connect(
        url,
        ssl=context,
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        ping_interval=None,
        max_size=2**21,
        subprotocols=["interop.v1"],
        **extra,
    ) as ws:
        result["subprotocol"] = ws.subprotocol
        # python-websockets offers permessage-deflate by default; what was agreed:
        result["extensions"] = ws.response_headers.get("Sec-WebSocket-Extensions")
        result["extension_names"] = [e.name for e in ws.extensions]
        text = "héllo wörld ✓ 𝄞"
        await ws.send(text)
        reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
        result["text_ok"] = reply == text
        result["text_type"] = type(reply).__name__

        blob = os.urandom(64 * 1024)
        await ws.send(blob)
        reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
        result["binary_ok"] = reply == blob
        result["binary_type"] = type(reply).__name__
        result["binary_len"] = len(reply)

        # Compressible text, 1 MiB: with deflate negotiated both ways travel compressed.
        big = "{\"user\": \"ada\", \"text\": \"the same words again\"}\n" * 20000
        await ws.send(big)
        reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
        result["big_text_ok"] = reply == big

        pong_waiter = await ws.ping(b"interop-ping")
        await asyncio.wait_for(pong_waiter, TIMEOUT)
        result["ping_ok"] = True

        await ws.close(code=1000, reason="interop done")
        result["close_code"] = ws.close_code
        result["close_reason"] = ws.close_reason
    return result


def main() -> int:
    url, ca_file = sys.argv[1], sys.argv[2]
    try:
        result = asyncio.run(asyncio.wait_for(run(url, ca_file), 3 * TIMEOUT))
    except Exception as error:  # report every failure as JSON for the test to show
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
