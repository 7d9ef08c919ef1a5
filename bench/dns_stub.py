#!/usr/bin/env python3
"""A slow DNS server for the DNS-at-scale scenario (bench/dns).

Answers UDP queries on --addr:--port after --delay-ms, every one of them:
A for NAME.bench.test is 127.0.0.1 (TTL --ttl), AAAA (and any other type)
for such a name is an empty NOERROR answer with an SOA, anything else is
NXDOMAIN. Loopback only; stops by itself after --max-seconds. On exit it
prints how many queries it answered, by type, on stderr.
"""

import argparse
import asyncio
import collections
import ipaddress
import signal
import socket
import struct
import sys
import time

ZONE = b"bench.test"
TYPE_A, TYPE_SOA = 1, 6
BUFFER = 32 << 20
SO_RCVBUFFORCE, SO_SNDBUFFORCE = 33, 32  # Linux; need CAP_NET_ADMIN


def parse_question(packet):
    """(id, flags, qname labels joined, qtype, end of question) or None."""
    if len(packet) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1 or flags & 0x8000:
        return None
    pos, labels = 12, []
    while True:
        if pos >= len(packet):
            return None
        n = packet[pos]
        pos += 1
        if n == 0:
            break
        if n & 0xC0 or pos + n > len(packet):
            return None
        labels.append(packet[pos:pos + n])
        pos += n
    if pos + 4 > len(packet):
        return None
    qtype, _qclass = struct.unpack("!HH", packet[pos:pos + 4])
    return qid, flags, b".".join(labels), qtype, pos + 4


def answer(packet, ttl):
    parsed = parse_question(packet)
    if parsed is None:
        return None, None
    qid, flags, name, qtype, end = parsed
    question = packet[12:end]
    lname = name.lower()
    in_zone = lname == ZONE or lname.endswith(b"." + ZONE)
    rd = flags & 0x0100
    if not in_zone:
        head = struct.pack("!HHHHHH", qid, 0x8400 | rd | 3, 1, 0, 0, 0)  # NXDOMAIN
        return head + question, "nxdomain"
    if qtype == TYPE_A:
        rr = b"\xc0\x0c" + struct.pack("!HHIH", TYPE_A, 1, ttl, 4) + bytes([127, 0, 0, 1])
        head = struct.pack("!HHHHHH", qid, 0x8400 | rd, 1, 1, 0, 0)
        return head + question + rr, "A"
    # No records of this type: NOERROR with the zone's SOA (negative TTL = ttl).
    zone = b"".join(bytes([len(p)]) + p for p in ZONE.split(b".")) + b"\x00"
    rdata = zone + zone + struct.pack("!IIIII", 1, 3600, 600, 86400, ttl)
    soa = zone + struct.pack("!HHIH", TYPE_SOA, 1, ttl, len(rdata)) + rdata
    head = struct.pack("!HHHHHH", qid, 0x8400 | rd, 1, 0, 1, 0)
    return head + question + soa, "AAAA" if qtype == 28 else "other"


class Stub(asyncio.DatagramProtocol):
    def __init__(self, delay, ttl):
        self.delay, self.ttl = delay, ttl
        self.counts = collections.Counter()

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        reply, kind = answer(data, self.ttl)
        if reply is None:
            self.counts["bad"] += 1
            return
        self.counts[kind] += 1
        asyncio.get_running_loop().call_later(self.delay, self.transport.sendto, reply, addr)


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", default="127.0.0.1")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--delay-ms", type=int, default=100)
    p.add_argument("--ttl", type=int, default=60)
    p.add_argument("--max-seconds", type=int, default=600)
    args = p.parse_args()
    if not ipaddress.ip_address(args.addr).is_loopback:
        sys.exit(f"dns_stub: {args.addr} is not a loopback address")
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in args.addr else socket.AF_INET, socket.SOCK_DGRAM)
    # A burst of thousands of queries overflows the default receive buffer
    # (~200 KB, a few hundred datagrams); a lost query costs the client a
    # 5 s retry, which would measure the stub, not the client.
    for opt, forced in ((socket.SO_RCVBUF, SO_RCVBUFFORCE), (socket.SO_SNDBUF, SO_SNDBUFFORCE)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, forced, BUFFER)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, opt, BUFFER)
    sock.bind((args.addr, args.port))
    transport, stub = await loop.create_datagram_endpoint(lambda: Stub(args.delay_ms / 1000, args.ttl), sock=sock)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready port={transport.get_extra_info('sockname')[1]}", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    except asyncio.TimeoutError:
        pass
    transport.close()
    counts = " ".join(f"{k}={v}" for k, v in sorted(stub.counts.items()))
    print(f"dns_stub: {counts} cpu={time.process_time():.2f}s", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
