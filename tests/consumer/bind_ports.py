#!/usr/bin/env python3
"""bind_ports.py OUT_DIR NAME [--connect] [--hold SECONDS]

A consumer test: binds and listens on 127.0.0.1 on every port of its lease
($PORTLEASE_PORTS) for --hold seconds (default 1), then records
"NAME bind START END PORT..." (times in ns since the epoch) in
OUT_DIR/NAME.rec. EADDRINUSE fails the test with a message naming the port.
With --connect it connects to every port instead (the ports of a stack a
fixture's SETUP test started) and records "NAME shared ...".
"""
import argparse
import errno
import os
import socket
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("name")
    parser.add_argument("--connect", action="store_true")
    parser.add_argument("--hold", type=float, default=1.0)
    args = parser.parse_args()
    ports = [int(p) for p in os.environ.get("PORTLEASE_PORTS", "").split()]
    if not ports or not os.environ.get("PORTLEASE_LEASE_ID"):
        sys.exit(f"{args.name}: no lease in the environment")
    start = time.time_ns()
    sockets = []
    for port in ports:
        if args.connect:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            greeting = s.recv(256).decode()
            if not greeting.startswith("stack "):
                sys.exit(f"{args.name}: port {port} answered {greeting!r}")
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    sys.exit(f"{args.name}: EADDRINUSE on port {port}")
                raise
            s.listen()
        sockets.append(s)
    time.sleep(args.hold)
    end = time.time_ns()
    for s in sockets:
        s.close()
    os.makedirs(args.out_dir, exist_ok=True)
    kind = "shared" if args.connect else "bind"
    with open(os.path.join(args.out_dir, args.name + ".rec"), "a") as f:
        f.write(f"{args.name} {kind} {start} {end} "
                + " ".join(map(str, ports)) + "\n")


if __name__ == "__main__":
    main()
