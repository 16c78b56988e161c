#!/usr/bin/python3
"""Anchor for bench/flows: a straightforward dpkt flow meter (Debian's python3-dpkt).

Reads a pcap, keys bidirectional TCP/UDP flows by protocol and the unordered pair of sockets, and keeps per
direction the packet count, bytes (IP length) and running length / inter-arrival statistics (Welford), which is
what a researcher's script computing the proposal's features does. Prints the number of flows.
"""
import socket
import sys

import dpkt


class Stats:
    __slots__ = ("n", "mean", "m2", "lo", "hi")

    def __init__(self):
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.lo = None
        self.hi = None

    def push(self, x):
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)
        self.lo = x if self.lo is None or x < self.lo else self.lo
        self.hi = x if self.hi is None or x > self.hi else self.hi


def main(path):
    flows = {}
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            ts = float(ts)  # nanosecond files give Decimal timestamps
            try:
                eth = dpkt.ethernet.Ethernet(buf)
            except (dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError):
                continue
            ip = eth.data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                continue
            l4 = ip.data
            if not isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP)):
                continue
            a = (ip.src, l4.sport)
            b = (ip.dst, l4.dport)
            key = (ip.p, a, b) if a < b else (ip.p, b, a)
            fl = flows.get(key)
            if fl is None:
                fl = flows[key] = {"client": a, "len": [Stats(), Stats()], "iat": [Stats(), Stats()], "last": [None, None]}
            d = 0 if a == fl["client"] else 1
            length = ip.len if isinstance(ip, dpkt.ip.IP) else 40 + ip.plen
            fl["len"][d].push(length)
            if fl["last"][d] is not None:
                fl["iat"][d].push(ts - fl["last"][d])
            fl["last"][d] = ts
    print(len(flows))


if __name__ == "__main__":
    main(sys.argv[1])
