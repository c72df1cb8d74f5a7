#!/usr/bin/env python3
"""Client-side scenarios against a running `cellblock serve`, for the integration tests
(tests/integration/service_*_test.cc). Each asserts what it claims and exits non-zero with the
reason when a claim fails; on success it prints one JSON line of what it saw.

  scenarios.py load ADDRESS JOBS CONNECTIONS [TOKEN]
  scenarios.py slow-headers ADDRESS HEADER_TIMEOUT_S
  scenarios.py stream ADDRESS GATE_DIR
  scenarios.py stream-queued ADDRESS GATE_DIR      (a service or worker with one slot)
  scenarios.py cancel ADDRESS GATE_DIR
  scenarios.py submit-gated ADDRESS GATE_DIR RUNNING QUEUED IDS_FILE
  scenarios.py check-all ADDRESS IDS_FILE
  scenarios.py go-judge ADDRESS [TOKEN]
"""
import json
import os
import socket
import sys
import threading
import time

from cbclient import Client


def fail(msg):
    print("scenario failed: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def gated_job(name, gate_dir, gate, before="", after=""):
    """A job that prints `before`, waits until the test creates GATE_DIR/gate (bound read-only at
    /gate), then prints `after`: the test decides when it ends, no timing involved."""
    script = 'printf "%s"; while [ ! -e /gate/%s ]; do sleep 0.02; done; printf "%s"' % (before, gate, after)
    return {"id": name, "command": ["/bin/sh", "-c", script],
            "mounts": [{"source": gate_dir, "target": "/gate"}],
            "limits": {"wall_time_ms": 600000}}


def load(address, jobs, connections, token=None):
    """JOBS jobs over CONNECTIONS concurrent keep-alive connections: every job is accepted once,
    gets exactly one result, and the right one."""
    # Names unique to this run, so that an earlier run on the same service is not counted.
    prefix = "load-%d-" % os.getpid()
    ids = {}  # job name -> service id
    lock = threading.Lock()
    errors = []
    sockets = []

    def worker(k):
        try:
            c = Client(address, token)
            mine = ["%s%d" % (prefix, i) for i in range(k, jobs, connections)]
            submitted = []
            for name in mine:
                status, _, body = c.submit({"id": name, "command": ["/bin/sh", "-c", "echo %s" % name]})
                if status != 202:
                    raise RuntimeError("POST %s: %d %s" % (name, status, body))
                submitted.append((name, body["id"]))
            for name, sid in submitted:
                rec = c.wait_done(sid)
                r = rec["result"]
                if r["id"] != name or r["status"] != "exited" or r["exit_code"] != 0 or r["stdout"] != name + "\n":
                    raise RuntimeError("job %s (%s) has the wrong result: %s" % (name, sid, r))
            with lock:
                for name, sid in submitted:
                    if name in ids:
                        raise RuntimeError("job %s submitted twice" % name)
                    ids[name] = sid
                sockets.append(len(c.sockets_used))
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("connection %d: %s" % (k, e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - t0
    check(not errors, "; ".join(errors[:5]))
    check(len(ids) == jobs, "%d of %d jobs have a result" % (len(ids), jobs))
    check(len(set(ids.values())) == jobs, "service ids are not unique")
    check(all(n == 1 for n in sockets), "a connection was not kept alive: sockets per client %s" % sockets)
    # The listing has each job exactly once, done.
    c = Client(address, token)
    seen = {}
    after = ""
    while True:
        status, _, page = c.request("GET", "/v1/jobs?limit=1000" + ("&after=" + after if after else ""))
        check(status == 200, "GET /v1/jobs: %d %s" % (status, page))
        for j in page["jobs"]:
            if j["job_id"].startswith(prefix):
                check(j["job_id"] not in seen, "job %s listed twice" % j["job_id"])
                check(j["state"] == "done" and j["status"] == "exited", "listed as %s" % j)
                seen[j["job_id"]] = j["id"]
        if not page["next"]:
            break
        after = page["next"]
    check(seen == ids, "the listing differs from what was submitted (%d listed)" % len(seen))
    print(json.dumps({"jobs": jobs, "connections": connections, "seconds": seconds}))


def slow_headers(address, header_timeout):
    """A client that sends half a header and nothing more is dropped after the header timeout,
    while other clients are served meanwhile."""
    path = address.partition(":")[2]
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.connect(path)
    slow.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
    sent = time.monotonic()
    served = 0
    c = Client(address)
    closed_at = None
    slow.setblocking(False)
    # Keep serving others until the slow one is dropped (bounded: 20 header timeouts).
    while time.monotonic() - sent < 20 * header_timeout:
        status, _, body = c.submit({"command": ["/bin/true"]}, wait=30)
        check(status == 200 and body["result"]["status"] == "exited", "job while a client stalls: %d %s" % (status, body))
        served += 1
        try:
            data = slow.recv(4096)
            if data == b"":
                closed_at = time.monotonic()
                break
            fail("the stalled client got an answer instead of being dropped: %r" % data[:200])
        except BlockingIOError:
            pass
    check(closed_at is not None, "the stalled client was never dropped")
    waited = closed_at - sent
    check(waited >= header_timeout * 0.9, "dropped after %.2f s, before the header timeout of %g s" % (waited, header_timeout))
    check(served >= 1, "no other client was served meanwhile")
    print(json.dumps({"dropped_after_s": waited, "served_meanwhile": served}))


def open_output(address, sid, query=""):
    """GET /v1/jobs/{id}/output on a connection of its own; the response, not yet read."""
    s = Client(address)
    s.conn.request("GET", "/v1/jobs/%s/output%s" % (sid, query))
    resp = s.conn.getresponse()
    check(resp.status == 200, "GET output: %d" % resp.status)
    check(resp.getheader("Transfer-Encoding", "").lower() == "chunked", "the output is not chunked")
    resp.client = s  # the connection lives as long as the response is read
    return resp


def follow_gated(c, resp, sid, gate_dir, first, whole):
    """Reads the stream until `first` came, checks the job is running then, opens its gate
    ("go"), reads to the end, and checks the stream held `whole`."""
    seen = b""
    while first not in seen:
        chunk = resp.read1(4096)
        check(chunk != b"", "the stream ended before the job printed anything: %r" % seen)
        seen += chunk
    _, _, rec = c.request("GET", "/v1/jobs/" + sid)
    check(rec["state"] == "running", "output arrived but the job is %s, not running" % rec["state"])
    open(os.path.join(gate_dir, "go"), "w").close()
    while True:
        chunk = resp.read1(4096)
        if not chunk:
            break
        seen += chunk
    check(seen == whole, "streamed %r" % seen)
    return seen


def stream(address, gate_dir):
    """GET /v1/jobs/{id}/output shows output while the job runs, then the rest, then ends."""
    c = Client(address)
    status, _, body = c.submit(gated_job("stream", gate_dir, "go", before="first\\n", after="second\\n"))
    check(status == 202, "POST: %d %s" % (status, body))
    sid = body["id"]
    resp = open_output(address, sid)
    seen = follow_gated(c, resp, sid, gate_dir, b"first\n", b"first\nsecond\n")
    rec = c.wait_done(sid)
    check(rec["result"]["stdout"] == "first\nsecond\n", "result %s" % rec["result"])
    # Once done, the same route answers with the whole output at once.
    status, headers, text = c.request("GET", "/v1/jobs/%s/output?stream=stdout" % sid)
    check(status == 200 and text == "first\nsecond\n", "after the end: %d %r" % (status, text))
    print(json.dumps({"streamed": seen.decode()}))


def stream_queued(address, gate_dir):
    """A follower that comes while the job is still queued (one slot, held by a gated job) gets
    the job's output from its first byte once it runs, then the end."""
    c = Client(address)
    status, _, a = c.submit(gated_job("holder", gate_dir, "free"))
    check(status == 202, "POST holder: %d %s" % (status, a))
    wait_state(c, a["id"], "running")
    status, _, b = c.submit(gated_job("follow-queued", gate_dir, "go", before="early\\n", after="late\\n"))
    check(status == 202, "POST: %d %s" % (status, b))
    sid = b["id"]
    resp = open_output(address, sid, "?stream=stdout")
    _, _, rec = c.request("GET", "/v1/jobs/" + sid)
    check(rec["state"] == "queued", "the followed job is %s, not queued behind the holder" % rec["state"])
    open(os.path.join(gate_dir, "free"), "w").close()
    seen = follow_gated(c, resp, sid, gate_dir, b"early\n", b"early\nlate\n")
    print(json.dumps({"streamed": seen.decode()}))


def wait_state(c, sid, state):
    while True:  # the event is the state change; ctest's timeout ends a test that never sees it
        status, _, rec = c.request("GET", "/v1/jobs/" + sid)
        if rec["state"] == state:
            return rec
        time.sleep(0.02)


def cancel(address, gate_dir):
    """DELETE cancels a queued job (it never starts) and a running one (killed); a done job is 409.
    The service runs with --parallel 1."""
    c = Client(address)
    _, _, a = c.submit(gated_job("running", gate_dir, "never"))
    wait_state(c, a["id"], "running")
    _, _, b = c.submit({"id": "queued", "command": ["/bin/echo", "never ran"]})
    status, _, rec = c.request("GET", "/v1/jobs/" + b["id"])
    check(rec["state"] == "queued", "second job is %s with --parallel 1" % rec["state"])
    status, _, rec = c.request("DELETE", "/v1/jobs/" + b["id"])
    check(status == 200, "DELETE queued: %d %s" % (status, rec))
    r = rec["result"]
    check(r["status"] == "cancelled" and "started_at" not in rec and r["stdout"] == "",
          "queued job after DELETE: %s" % rec)
    check("DELETE" in r["error"], "error does not say why: %s" % r["error"])
    status, _, rec = c.request("DELETE", "/v1/jobs/" + a["id"])
    check(status == 200, "DELETE running: %d %s" % (status, rec))
    r = rec["result"]
    check(r["status"] == "cancelled" and r["signal"] == 9 and "started_at" in rec, "running job after DELETE: %s" % rec)
    status, _, again = c.request("DELETE", "/v1/jobs/" + a["id"])
    check(status == 409 and "already done" in again["error"], "DELETE of a done job: %d %s" % (status, again))
    status, _, missing = c.request("DELETE", "/v1/jobs/ffffffffffffffff")
    check(status == 404 and missing["field"] == "id", "DELETE of an unknown job: %d %s" % (status, missing))
    print(json.dumps({"queued": b["id"], "running": a["id"]}))


def submit_gated(address, gate_dir, running, queued, ids_file):
    """Submits RUNNING + QUEUED gated jobs, waits until RUNNING run, writes their ids."""
    c = Client(address)
    ids = []
    for i in range(running + queued):
        status, _, body = c.submit(gated_job("crash-%d" % i, gate_dir, "release", after="done %d\\n" % i))
        check(status == 202, "POST: %d %s" % (status, body))
        ids.append(body["id"])
    for sid in ids[:running]:
        wait_state(c, sid, "running")
    for sid in ids[running:]:
        _, _, rec = c.request("GET", "/v1/jobs/" + sid)
        check(rec["state"] == "queued", "job %s is %s" % (sid, rec["state"]))
    with open(ids_file, "w") as f:
        json.dump({"running": ids[:running], "queued": ids[running:]}, f)
    print(json.dumps({"submitted": len(ids)}))


def check_all(address, ids_file):
    """After a restart: every job of IDS_FILE has exactly one result; those that ran when the
    service died ran again as attempt 2."""
    with open(ids_file) as f:
        ids = json.load(f)
    c = Client(address)
    for group, attempt in (("running", 2), ("queued", 1)):
        for sid in ids[group]:
            rec = c.wait_done(sid)
            r = rec["result"]
            n = int(r["id"].split("-")[1])
            check(r["status"] == "exited" and r["stdout"] == "done %d\n" % n, "job %s: %s" % (sid, r))
            check(rec["attempt"] == attempt and r["attempt"] == attempt,
                  "job %s (%s) has attempt %s, expected %d" % (sid, group, rec["attempt"], attempt))
    _, _, page = c.request("GET", "/v1/jobs?limit=1000")
    every = ids["running"] + ids["queued"]
    listed = [j["id"] for j in page["jobs"] if j["id"] in every]
    check(sorted(listed) == sorted(every), "listed %s, submitted %s" % (listed, every))
    print(json.dumps({"results": len(every)}))


def go_judge(address, token=None):
    """A judge's round on go-judge's API (docs/go-judge.md) over one keep-alive connection: a
    "compile" step keeps its product with copyOutCached, test cases run it by fileId with their
    stdin, a wrong answer and a runtime error come back as such, then the file is deleted."""
    c = Client(address, token)

    def run(cmds):
        status, _, body = c.request("POST", "/run", {"cmd": cmds})
        check(status == 200, "POST /run: %d %s" % (status, body))
        check(isinstance(body, list) and len(body) == len(cmds), "POST /run answered %s" % body)
        return body

    def cmd(args, stdin="", **more):
        spec = {"args": args, "env": ["PATH=/usr/bin:/bin"], "cpuLimit": 10 ** 10, "memoryLimit": 256 << 20,
                "procLimit": 50,
                "files": [{"content": stdin}, {"name": "stdout", "max": 10240}, {"name": "stderr", "max": 10240}]}
        spec.update(more)
        return spec

    source = 'read a b; [ "$a" = crash ] && exit 7; echo $((a + b))\n'
    built = run([cmd(["/bin/sh", "-c", "cp main.sh solution && chmod +x solution"],
                     copyIn={"main.sh": {"content": "#!/bin/sh\n" + source}}, copyOutCached=["solution"])])[0]
    check(built["status"] == "Accepted", "compile: %s" % built)
    fid = built["fileIds"]["solution"]
    cases = [("1 2\n", "3\n"), ("40 2\n", "42\n"), ("2 2\n", "5\n"), ("crash 0\n", None)]
    results = run([cmd(["./solution"], stdin, copyIn={"solution": {"fileId": fid}}) for stdin, _ in cases])
    verdicts = []
    for (stdin, expected), r in zip(cases, results):
        if r["status"] != "Accepted":
            verdicts.append(r["status"])
        else:
            verdicts.append("OK" if r["files"]["stdout"] == expected else "Wrong Answer")
    check(verdicts == ["OK", "OK", "Wrong Answer", "Nonzero Exit Status"], "verdicts %s from %s" % (verdicts, results))
    check(results[3]["exitStatus"] == 7, "exit status %s" % results[3])
    status, _, listed = c.request("GET", "/file")
    check(status == 200 and listed.get(fid) == "solution", "GET /file: %s" % listed)
    status, _, _ = c.request("DELETE", "/file/" + fid)
    check(status == 200, "DELETE /file: %d" % status)
    status, _, _ = c.request("GET", "/file/" + fid)
    check(status == 404, "GET a deleted file: %d" % status)
    check(len(c.sockets_used) == 1, "the connection was not kept alive")
    print(json.dumps({"verdicts": verdicts}))


def main(argv):
    if len(argv) < 3:
        fail(__doc__)
    cmd, address = argv[1], argv[2]
    args = argv[3:]
    if cmd == "load":
        load(address, int(args[0]), int(args[1]), args[2] if len(args) > 2 else None)
    elif cmd == "slow-headers":
        slow_headers(address, float(args[0]))
    elif cmd == "stream":
        stream(address, args[0])
    elif cmd == "stream-queued":
        stream_queued(address, args[0])
    elif cmd == "cancel":
        cancel(address, args[0])
    elif cmd == "submit-gated":
        submit_gated(address, args[0], int(args[1]), int(args[2]), args[3])
    elif cmd == "check-all":
        check_all(address, args[0])
    elif cmd == "go-judge":
        go_judge(address, args[0] if args else None)
    else:
        fail("unknown scenario " + cmd)


if __name__ == "__main__":
    main(sys.argv)
