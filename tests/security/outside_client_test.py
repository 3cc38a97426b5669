#!/usr/bin/python3
"""outside_client_test.py PROTO_DIR PORTLEASED

Identity decides, not knowledge of an id, seen from a client outside the
code base: Python stubs generated from the .proto at test time (protoc and
the system grpc_python_plugin), against a real portleased on a Unix socket
everyone may connect to. Root (the victim) acquires a lease; a client
running as nobody, told the victim's request_id and lease id (as a leaked
command line would), then
  - replays the Acquire with that request_id: it gets a lease of its own;
  - calls Renew (24h), Release and Hold with the victim's id: each is
    PERMISSION_DENIED, and the victim's lease is unchanged;
  - reads List and Who: their bytes carry neither the victim's request_id
    nor its full id.
Exits 77 (skipped) without root, setpriv, protoc, the plugin or the Python
grpc and protobuf modules (Debian: python3-grpcio python3-protobuf).
"""
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
SETPRIV = "/usr/bin/setpriv"
PROTOC = "/usr/bin/protoc"
PLUGIN = "/usr/bin/grpc_python_plugin"
TIMEOUT = 10  # seconds, every RPC


def skip(why):
    print(f"outside_client_test: skipped: {why}")
    sys.exit(SKIP)


def generate_stubs(proto_dir, out):
    subprocess.run(
        [PROTOC, "-I" + proto_dir, "-I/usr/include", "--python_out=" + out,
         "--grpc_python_out=" + out,
         "--plugin=protoc-gen-grpc_python=" + PLUGIN,
         "portlease/v1/portlease.proto"],
        check=True, timeout=60)
    for root, dirs, files in os.walk(out):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def load_stubs(stub_dir):
    sys.path.insert(0, stub_dir)
    import grpc  # noqa: F401 (checked by the caller)
    from portlease.v1 import portlease_pb2, portlease_pb2_grpc
    return portlease_pb2, portlease_pb2_grpc


def attack(socket_path, stub_dir, request_id, lease_id, base_port):
    """Runs as nobody. Returns the failures."""
    import grpc
    pb, pb_grpc = load_stubs(stub_dir)
    failures = []
    stub = pb_grpc.PortLeaseStub(grpc.insecure_channel("unix:" + socket_path))

    replay = stub.Acquire(pb.AcquireRequest(count=1, request_id=request_id),
                          timeout=TIMEOUT)
    if replay.lease.lease_id == lease_id or not replay.lease.lease_id:
        failures.append("the replayed Acquire answered the victim's lease "
                        "(or none): " + replay.lease.lease_id_prefix)

    def expect_denied(what, call):
        try:
            call()
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.PERMISSION_DENIED:
                failures.append(f"{what}: {e.code()} {e.details()}, want "
                                "PERMISSION_DENIED")
            elif "belongs to uid:0" not in e.details():
                failures.append(f"{what}: message {e.details()!r}")
            return
        failures.append(f"{what} of the victim's lease succeeded")

    renew = pb.RenewRequest(lease_id=lease_id)
    renew.ttl.seconds = 86400
    expect_denied("Renew", lambda: stub.Renew(renew, timeout=TIMEOUT))
    expect_denied("Release", lambda: stub.Release(
        pb.ReleaseRequest(lease_id=lease_id), timeout=TIMEOUT))
    expect_denied("Hold", lambda: list(stub.Hold(
        iter([pb.HoldRequest(lease_id=lease_id)]), timeout=TIMEOUT)))

    listed = stub.List(pb.ListRequest(), timeout=TIMEOUT).SerializeToString()
    who = stub.Who(pb.WhoRequest(ports=[base_port]),
                   timeout=TIMEOUT).SerializeToString()
    for name, data in (("List", listed), ("Who", who)):
        if request_id.encode() in data:
            failures.append(f"{name} carries the victim's request_id")
        if lease_id.encode() in data:
            failures.append(f"{name} carries the victim's full lease id")
        if lease_id[:8].encode() not in data:
            failures.append(f"{name} does not show the victim's id prefix")
    return failures


def start_server(portleased, tmp):
    os.mkdir(os.path.join(tmp, "run"), 0o755)
    socket_path = os.path.join(tmp, "run", "s.sock")
    read_fd, write_fd = os.pipe()
    log = open(os.path.join(tmp, "server.log"), "w")
    # --probe=none: nothing binds the ports it grants.
    server = subprocess.Popen(
        [portleased, "--listen", "unix:" + socket_path, "--db", ":memory:",
         "--probe=none", "--claims_dir=off", "--pool", "20000-20015",
         f"--ready_fd={write_fd}"],
        pass_fds=(write_fd,), stdout=log, stderr=log)
    os.close(write_fd)
    with os.fdopen(read_fd) as ready:
        line = ready.readline()
    if not line.startswith("ready"):
        server.kill()
        server.wait(timeout=TIMEOUT)
        sys.exit("portleased did not start:\n" +
                 open(os.path.join(tmp, "server.log")).read())
    os.chmod(socket_path, 0o666)  # everyone may connect: identity decides
    return server, socket_path


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "--attack":
        failures = attack(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                          int(sys.argv[6]))
        for f in failures:
            print("FAIL (as nobody):", f)
        sys.exit(1 if failures else 0)
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    proto_dir, portleased = sys.argv[1:3]
    if os.geteuid() != 0:
        skip("needs root, to run the other client as nobody")
    for tool in (SETPRIV, PROTOC, PLUGIN):
        if not os.access(tool, os.X_OK):
            skip(f"{tool} is missing")
    try:
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError as e:
        skip(f"{e} (install python3-grpcio python3-protobuf)")

    tmp = tempfile.mkdtemp(prefix="ploutside-", dir="/tmp")
    os.chmod(tmp, 0o755)
    server = None
    try:
        stub_dir = os.path.join(tmp, "py")
        os.mkdir(stub_dir, 0o755)
        generate_stubs(proto_dir, stub_dir)
        pb, pb_grpc = load_stubs(stub_dir)
        import grpc
        server, socket_path = start_server(portleased, tmp)
        stub = pb_grpc.PortLeaseStub(
            grpc.insecure_channel("unix:" + socket_path))
        request_id = "victim-" + os.urandom(8).hex()
        request = pb.AcquireRequest(count=1, request_id=request_id)
        request.ttl.seconds = 60
        victim = stub.Acquire(request, timeout=TIMEOUT).lease
        before = stub.Get(pb.GetRequest(lease_id=victim.lease_id),
                          timeout=TIMEOUT).lease

        # The victim's request_id and id leak, e.g. through a command line.
        attacker = subprocess.run(
            [SETPRIV, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             "--", sys.executable, os.path.abspath(__file__), "--attack",
             socket_path, stub_dir, request_id, victim.lease_id,
             str(victim.base_port)],
            cwd=tmp, capture_output=True, text=True, timeout=60)
        failures = []
        if attacker.returncode != 0:
            failures.append(f"the client as nobody exited "
                            f"{attacker.returncode}:\n{attacker.stdout}"
                            f"{attacker.stderr}")

        try:
            after = stub.Get(pb.GetRequest(lease_id=victim.lease_id),
                             timeout=TIMEOUT).lease
            if after.expires_at != before.expires_at:
                failures.append("the victim's lease expiry changed")
        except grpc.RpcError as e:
            failures.append(f"the victim's lease is gone: {e.code()} "
                            f"{e.details()}")
        live = stub.List(pb.ListRequest(), timeout=TIMEOUT).leases
        if len(live) != 2:
            failures.append(f"{len(live)} live leases, want 2 (the victim's "
                            "and the replay's own)")
        for f in failures:
            print("FAIL:", f)
        if failures:
            print(open(os.path.join(tmp, "server.log")).read())
            sys.exit(1)
        print("outside_client_test: ok")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=TIMEOUT)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
