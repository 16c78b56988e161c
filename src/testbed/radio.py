#!/usr/bin/env python3
"""The testbed's radio links: a user-space delay line between pairs of Ethernet ports (netns.ts starts it).

This kernel, like many cloud and CI kernels, is built without tc netem (CONFIG_NET_SCH_NETEM) and without the fq
and etf qdiscs that could hold packets until a departure time, so delay, jitter and loss cannot come from tc. Each
link here is two veth ends in the radio's namespace, with no address; every frame read from one end is written to
the other after the link's shaping in that direction:

  * rate: a frame occupies the link for len*8/rate s after the previous one (a serialisation queue, as tbf);
    a frame that would wait more than `queue_ms` is dropped (tail drop, a bounded buffer);
  * delay: a normal draw (mean `delay_ms`, s.d. `jitter_ms`, at least 0) added once the frame is on the link;
  * order: frames of one direction leave in the order they came (Wi-Fi's block-ack reordering buffer and LTE's
    RLC deliver in order; netem's jitter reorders, which real access links rarely do);
  * loss: each frame dropped with probability `loss_pct`/100 (independent draws from the seeded generator).

Written in Python because Node has no AF_PACKET sockets; the standard library has. Python's own latency (tens of
microseconds a frame) is far below the millisecond delays it adds, and a testbed's rates (a few thousand frames
a second) are far below what one core relays. Configuration: one JSON argument, {"seed": n, "links": [{"name",
"a", "b", "ab": shape, "ba": shape}]}. Prints "ready" once every port is bound; on SIGTERM prints one JSON line of
counters per direction and exits.
"""
import heapq
import json
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
FRAME_MAX = 65536


class Direction:
    def __init__(self, name, shape, rng, out):
        self.name = name
        self.delay = max(0.0, float(shape.get('delay_ms', 0))) / 1000
        self.jitter = max(0.0, float(shape.get('jitter_ms', 0))) / 1000
        self.loss = max(0.0, min(100.0, float(shape.get('loss_pct', 0)))) / 100
        rate = float(shape.get('rate_mbit', 0))
        self.sec_per_byte = 8 / (rate * 1e6) if rate > 0 else 0.0
        self.queue_max = float(shape.get('queue_ms', 200)) / 1000
        self.rng = rng
        self.out = out
        self.busy_until = 0.0
        self.last_due = 0.0
        self.counts = {'frames': 0, 'bytes': 0, 'lost': 0, 'queue_drops': 0, 'send_errors': 0}

    def schedule(self, now, frame):
        """When `frame` leaves the other end, or None when the link drops it."""
        self.counts['frames'] += 1
        self.counts['bytes'] += len(frame)
        if self.loss > 0 and self.rng.random() < self.loss:
            self.counts['lost'] += 1
            return None
        start = max(now, self.busy_until)
        if start - now > self.queue_max:
            self.counts['queue_drops'] += 1
            return None
        self.busy_until = start + len(frame) * self.sec_per_byte
        delay = self.delay
        if self.jitter > 0:
            delay = max(0.0, self.rng.gauss(self.delay, self.jitter))
        due = max(self.busy_until + delay, self.last_due)
        self.last_due = due
        return due


def port(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind((name, 0))
    s.setblocking(False)
    return s


def main():
    cfg = json.loads(sys.argv[1])
    rng = random.Random(int(cfg.get('seed', 1)))
    socks = {}
    for link in cfg['links']:
        for end in (link['a'], link['b']):
            if end not in socks:
                socks[end] = port(end)
    directions = {}
    for link in cfg['links']:
        for src, dst, key in ((link['a'], link['b'], 'ab'), (link['b'], link['a'], 'ba')):
            directions[socks[src].fileno()] = (socks[src], Direction(f"{link['name']} {src}->{dst}", link[key], rng, socks[dst]))
    running = [True]

    def stop(_sig, _frame):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print('ready', flush=True)
    queue = []
    seq = 0
    readers = [s for s, _ in directions.values()]
    while running[0]:
        # At most 0.2 s: select is restarted after a signal (PEP 475), so SIGTERM is only seen when it returns.
        timeout = 0.2 if not queue else min(0.2, max(0.0, queue[0][0] - time.monotonic()))
        try:
            ready, _, _ = select.select(readers, [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for s in ready:
            _, d = directions[s.fileno()]
            for _ in range(256):
                try:
                    frame, addr = s.recvfrom(FRAME_MAX)
                except (BlockingIOError, InterruptedError):
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # what this radio itself wrote to the port
                due = d.schedule(now, frame)
                if due is not None:
                    seq += 1
                    heapq.heappush(queue, (due, seq, d, frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, d, frame = heapq.heappop(queue)
            try:
                d.out.send(frame)
            except OSError:
                d.counts['send_errors'] += 1
    print(json.dumps({d.name: d.counts for _, d in directions.values()}), flush=True)


if __name__ == '__main__':
    main()
