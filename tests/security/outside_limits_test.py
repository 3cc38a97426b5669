#!/usr/bin/python3
"""outside_limits_test.py PROTO_DIR PORTLEASED

The server's limits, seen from a client outside the code base (Python stubs
generated from the .proto at test time, as outside_client_test.py does),
against real portleased processes on Unix sockets:
  - fds: portleased under `prlimit --nofile=64:64` with 200 concurrent
    clients, each on its own connection. No pool port is reported busy
    unless something really binds it, and every failed Acquire is
    UNAVAILABLE (a refused connection, or "server out of file
    descriptors"), never RESOURCE_EXHAUSTED with a false cause;
  - quota: --max-ports-per-owner=5 refuses a caller's sixth port with
    RESOURCE_EXHAUSTED naming the limit;
  - hold-flood: with --rate-limit=5, a Hold stream whose client sends as
    fast as it can ends RESOURCE_EXHAUSTED: its messages are requests too;
  - pages: List answers in pages (page_size, page_token, next_page_token)
    and the pages together hold every lease once.
Exits 77 (skipped) without prlimit, protoc, the plugin or the Python grpc
and protobuf modules (Debian: python3-grpcio python3-protobuf).
"""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

SKIP = 77
PRLIMIT = "/usr/bin/prlimit"
PROTOC = "/usr/bin/protoc"
PLUGIN = "/usr/bin/grpc_python_plugin"
TIMEOUT = 10  # seconds, every RPC
CLIENTS = 200


def skip(why):
    print(f"outside_limits_test: skipped: {why}")
    sys.exit(SKIP)


def generate_stubs(proto_dir, out):
    subprocess.run(
        [PROTOC, "-I" + proto_dir, "-I/usr/include", "--python_out=" + out,
         "--grpc_python_out=" + out,
         "--plugin=protoc-gen-grpc_python=" + PLUGIN,
         "portlease/v1/portlease.proto"],
        check=True, timeout=60)
    sys.path.insert(0, out)


class Server:
    """A portleased on a Unix socket in `tmp`; `prefix` runs before it."""

    def __init__(self, portleased, tmp, name, args, prefix=()):
        self.log_path = os.path.join(tmp, name + ".log")
        self.socket = os.path.join(tmp, name + ".sock")
        read_fd, write_fd = os.pipe()
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            list(prefix) +
            [portleased, "--listen", "unix:" + self.socket, "--db",
             ":memory:", "--claims_dir=off", f"--ready_fd={write_fd}"] +
            list(args),
            pass_fds=(write_fd,), stdout=log, stderr=log)
        os.close(write_fd)
        with os.fdopen(read_fd) as ready:
            line = ready.readline()
        if not line.startswith("ready"):
            self.stop()
            sys.exit(f"portleased {name} did not start:\n" + self.log())

    def log(self):
        return open(self.log_path).read()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=TIMEOUT)


def pool_range(count):
    """A base port for a pool of `count` ports below the kernel's ephemeral
    range (portleased refuses an overlap). Its ports may be in use: the
    checks below ask the host before calling a busy port false."""
    lo = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    top = max(lo - count, 10000)
    return random.randrange(10000, top) if top > 10000 else 10000


def really_bound(port):
    """Whether something on the host holds `port` (a bind without
    SO_REUSEADDR fails)."""
    for family, address in ((socket.AF_INET, "0.0.0.0"),
                            (socket.AF_INET6, "::")):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((address, port))
        except OSError:
            return True
        finally:
            s.close()
    return False


def check_fds(grpc, pb, pb_grpc, portleased, tmp):
    failures = []
    pool = 300
    base = pool_range(pool)
    server = Server(portleased, tmp, "fds",
                    [f"--pool={base}-{base + pool - 1}",
                     "--max_ports_per_owner=0", "--max_leases_per_owner=0",
                     "--rate_limit=0"],
                    prefix=[PRLIMIT, "--nofile=64:64"])
    try:
        results = []
        lock = threading.Lock()
        start = threading.Barrier(CLIENTS)

        def client():
            # A connection of its own (no shared subchannel).
            channel = grpc.insecure_channel(
                "unix:" + server.socket,
                options=[("grpc.use_local_subchannel_pool", 1)])
            stub = pb_grpc.PortLeaseStub(channel)
            try:
                start.wait(timeout=TIMEOUT)
            except threading.BrokenBarrierError:
                pass
            try:
                stub.Acquire(pb.AcquireRequest(count=1), timeout=TIMEOUT)
                outcome = ("OK", "")
            except grpc.RpcError as e:
                outcome = (e.code().name, e.details() or "")
            with lock:
                results.append(outcome)
            channel.close()

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=4 * TIMEOUT)
        granted = sum(1 for code, _ in results if code == "OK")
        for code, details in results:
            if code == "RESOURCE_EXHAUSTED":
                failures.append(f"fds: RESOURCE_EXHAUSTED: {details}")
            elif code not in ("OK", "UNAVAILABLE", "DEADLINE_EXCEEDED"):
                failures.append(f"fds: {code}: {details}")
            elif code == "UNAVAILABLE" and "server out of" not in details \
                    and "Socket closed" not in details \
                    and "onnect" not in details and "reset" not in details:
                failures.append(f"fds: UNAVAILABLE says {details!r}")
        if granted == 0:
            failures.append("fds: nothing was granted")
        if server.process.poll() is not None:
            failures.append("fds: portleased died")
            return failures
        # No pool port is marked busy unless something holds it.
        stub = pb_grpc.PortLeaseStub(grpc.insecure_channel(
            "unix:" + server.socket))
        for first in range(base, base + pool, 256):
            ports = list(range(first, min(first + 256, base + pool)))
            who = stub.Who(pb.WhoRequest(ports=ports), timeout=TIMEOUT,
                           wait_for_ready=True)
            for port_info in who.ports:
                if port_info.pool_state == "busy" and not really_bound(
                        port_info.port):
                    failures.append(f"fds: port {port_info.port} is marked "
                                    "busy but nothing binds it")
        if "foreign-busy" in server.log():
            for line in server.log().splitlines():
                if "foreign-busy" in line:
                    port = int(line.split("port=")[1].split()[0]) \
                        if "port=" in line else 0
                    if port and not really_bound(port):
                        failures.append("fds: logged " + line)
        print(f"outside_limits_test: fds: {granted} of {CLIENTS} granted, "
              f"others: {sorted(set(c for c, _ in results if c != 'OK'))}")
    finally:
        server.stop()
    if failures:
        print(server.log()[-4000:])
    return failures


def check_quota_and_hold(grpc, pb, pb_grpc, portleased, tmp):
    failures = []
    server = Server(portleased, tmp, "quota",
                    ["--probe=none", "--pool=20000-20099",
                     "--max_ports_per_owner=5"])
    try:
        stub = pb_grpc.PortLeaseStub(grpc.insecure_channel(
            "unix:" + server.socket))
        stub.Acquire(pb.AcquireRequest(count=3), timeout=TIMEOUT)
        try:
            stub.Acquire(pb.AcquireRequest(count=3), timeout=TIMEOUT)
            failures.append("quota: a sixth port was granted")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or \
                    "at most 5 ports on this server" not in e.details():
                failures.append(f"quota: {e.code()} {e.details()!r}")
        stub.Acquire(pb.AcquireRequest(count=2), timeout=TIMEOUT)
    finally:
        server.stop()

    server = Server(portleased, tmp, "hold",
                    ["--probe=none", "--pool=20000-20099",
                     "--rate_limit=5", "--rate_burst=5"])
    try:
        stub = pb_grpc.PortLeaseStub(grpc.insecure_channel(
            "unix:" + server.socket))
        lease = stub.Acquire(pb.AcquireRequest(count=1),
                             timeout=TIMEOUT).lease
        sent = 200
        answered = 0
        try:
            for _ in stub.Hold(iter([pb.HoldRequest(lease_id=lease.lease_id)]
                                    * sent), timeout=TIMEOUT):
                answered += 1
            failures.append(f"hold: all {sent} messages were answered at "
                            "--rate-limit=5")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                failures.append(f"hold: {e.code()} {e.details()!r}")
        if answered >= 50:
            failures.append(f"hold: {answered} messages answered")
    finally:
        server.stop()
    return failures


def check_pages(grpc, pb, pb_grpc, portleased, tmp):
    failures = []
    if "page_token" not in pb.ListRequest.DESCRIPTOR.fields_by_name:
        return ["pages: ListRequest has no page_token"]
    server = Server(portleased, tmp, "pages",
                    ["--probe=none", "--pool=20000-20999"])
    try:
        stub = pb_grpc.PortLeaseStub(grpc.insecure_channel(
            "unix:" + server.socket))
        ids = set()
        for _ in range(25):
            ids.add(stub.Acquire(pb.AcquireRequest(count=2),
                                 timeout=TIMEOUT).lease.lease_id[:8])
        seen = []
        token = ""
        for page_number in range(100):
            page = stub.List(pb.ListRequest(page_size=10, page_token=token),
                             timeout=TIMEOUT)
            if len(page.leases) > 10:
                failures.append(f"pages: a page of {len(page.leases)}")
            seen += [lease.lease_id_prefix[:8] for lease in page.leases]
            token = page.next_page_token
            if not token:
                break
        if page_number < 2:
            failures.append(f"pages: {page_number + 1} pages for 25 leases "
                            "at 10 a page")
        if sorted(seen) != sorted(ids):
            failures.append(f"pages: {len(seen)} leases listed, want the "
                            f"{len(ids)} granted, each once")
        try:
            stub.List(pb.ListRequest(page_token="garbage"), timeout=TIMEOUT)
            failures.append("pages: a garbage page_token was accepted")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.INVALID_ARGUMENT:
                failures.append(f"pages: garbage token: {e.code()}")
    finally:
        server.stop()
    return failures


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    proto_dir, portleased = sys.argv[1:3]
    only = sys.argv[3:]  # case names, for a run by hand
    for tool in (PRLIMIT, PROTOC, PLUGIN):
        if not os.access(tool, os.X_OK):
            skip(f"{tool} is missing")
    try:
        import grpc
        import google.protobuf  # noqa: F401
    except ImportError as e:
        skip(f"{e} (install python3-grpcio python3-protobuf)")

    tmp = tempfile.mkdtemp(prefix="plimits-", dir="/tmp")
    try:
        stub_dir = os.path.join(tmp, "py")
        os.mkdir(stub_dir)
        generate_stubs(proto_dir, stub_dir)
        from portlease.v1 import portlease_pb2 as pb
        from portlease.v1 import portlease_pb2_grpc as pb_grpc
        failures = []
        for name, case in (("fds", check_fds),
                           ("quota", check_quota_and_hold),
                           ("pages", check_pages)):
            if not only or name in only:
                failures += case(grpc, pb, pb_grpc, portleased, tmp)
        for f in failures:
            print("FAIL:", f)
        if failures:
            sys.exit(1)
        print("outside_limits_test: ok")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
