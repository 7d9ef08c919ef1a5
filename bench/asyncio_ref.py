#!/usr/bin/env python3
"""asyncio_ref.py: the Python asyncio reference client of bench/run.

It follows the original example of statuscheck as it stands: for every URL
one asyncio.open_connection (TLS through an ssl context for https), write a
GET, readline() the status line, close; all URLs at once with
asyncio.gather, or one after another with --sequential. It prints
`url<TAB>code` per URL, in input order (`url<TAB>ERR<TAB>reason` on failure).

Two additions so that it can run against the local bench server:
  --resolve HOST:PORT:ADDR (or --resolve-file with such lines): connect to
      ADDR but send HOST as SNI and Host header, like curl --resolve;
  -c N: at most N connections in flight (an asyncio.Semaphore), so that it is
      compared at the same concurrency as the other clients; without -c it
      gathers everything at once, exactly like the original.
"""

import argparse
import asyncio
import ssl
import sys
import urllib.parse


async def get_status(url, ssl_context, pins):
    parts = urllib.parse.urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname
    port = parts.port or (443 if https else 80)
    addr = pins.get((host, port), host)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if https:
        reader, writer = await asyncio.open_connection(
            addr, port, ssl=ssl_context, server_hostname=host
        )
    else:
        reader, writer = await asyncio.open_connection(addr, port)
    query = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
    writer.write(query.encode("latin-1"))
    line = await reader.readline()
    writer.close()
    return int(line.split()[1])


async def main_async(args, urls, ssl_context, pins):
    if args.sequential:
        results = []
        for url in urls:
            try:
                results.append(await get_status(url, ssl_context, pins))
            except Exception as error:  # keep going, like gather(return_exceptions)
                results.append(error)
        return results

    if args.concurrency:
        limit = asyncio.Semaphore(args.concurrency)

        async def limited(url):
            async with limit:
                return await get_status(url, ssl_context, pins)

        coros = [limited(url) for url in urls]
    else:
        coros = [get_status(url, ssl_context, pins) for url in urls]
    return await asyncio.gather(*coros, return_exceptions=True)


def parse_pins(lines):
    pins = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        host, port, addr = line.split(":", 2)
        pins[(host.lower(), int(port))] = addr.split(",")[0].strip("[]")
    return pins


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", help="files of URLs, one a line ('-': stdin)")
    parser.add_argument("--sequential", action="store_true")
    parser.add_argument("-c", "--concurrency", type=int, default=0)
    parser.add_argument("--cacert", help="PEM file of an extra CA to trust")
    parser.add_argument("--resolve", action="append", default=[])
    parser.add_argument("--resolve-file")
    args = parser.parse_args()

    urls = []
    for name in args.files:
        stream = sys.stdin if name == "-" else open(name, encoding="utf-8")
        with stream:
            urls.extend(u.strip() for u in stream if u.strip() and not u.startswith("#"))

    pin_lines = list(args.resolve)
    if args.resolve_file:
        with open(args.resolve_file, encoding="utf-8") as f:
            pin_lines.extend(f)
    pins = parse_pins(pin_lines)

    ssl_context = ssl.create_default_context()
    if args.cacert:
        ssl_context.load_verify_locations(cafile=args.cacert)

    results = asyncio.run(main_async(args, urls, ssl_context, pins))
    out = sys.stdout
    failed = 0
    for url, result in zip(urls, results):
        if isinstance(result, BaseException):
            failed += 1
            reason = f"{type(result).__name__}: {result}".replace("\t", " ").replace("\n", " ")
            out.write(f"{url}\tERR\t{reason}\n")
        else:
            out.write(f"{url}\t{result}\n")
    out.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
