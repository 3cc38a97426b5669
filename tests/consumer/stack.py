#!/usr/bin/env python3
"""stack.py start|stop OUT_DIR NAME

A stand-in for a service stack started by a fixture's SETUP test and
stopped by its CLEANUP test. `start` forks a daemon that listens on
127.0.0.1 on every port of the lease ($PORTLEASE_PORTS), answers each
connection with "stack <lease id>", and returns once it listens; `stop`
ends that daemon (by the pid it recorded) and records
"NAME bind START END PORT..." in OUT_DIR/NAME.rec, the time the stack held
its ports.
"""
import os
import signal
import socket
import sys
import time


def start(out_dir, name):
    ports = [int(p) for p in os.environ["PORTLEASE_PORTS"].split()]
    lease = os.environ["PORTLEASE_LEASE_ID"]
    os.makedirs(out_dir, exist_ok=True)
    sockets = []
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", port))  # EADDRINUSE fails the SETUP test
        s.listen(64)
        sockets.append(s)
    started = time.time_ns()
    if os.fork() > 0:
        return  # the daemon holds the sockets; the SETUP test is done
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    with open(os.path.join(out_dir, name + ".pid"), "w") as f:
        f.write(f"{os.getpid()} {started} {' '.join(map(str, ports))}\n")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    import selectors
    sel = selectors.DefaultSelector()
    for s in sockets:
        sel.register(s, selectors.EVENT_READ)
    deadline = time.time() + 600  # never outlive a stuck run
    while time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            conn, _ = key.fileobj.accept()
            conn.sendall(f"stack {lease}\n".encode())
            conn.close()
    os._exit(0)


def stop(out_dir, name):
    path = os.path.join(out_dir, name + ".pid")
    pid, started, *ports = open(path).read().split()
    os.kill(int(pid), signal.SIGTERM)
    for _ in range(100):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    os.remove(path)
    with open(os.path.join(out_dir, name + ".rec"), "a") as f:
        f.write(f"{name} bind {started} {time.time_ns()} {' '.join(ports)}\n")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    (start if sys.argv[1] == "start" else stop)(sys.argv[2], sys.argv[3])
