"""A small client of cellblock serve's native API (docs/api.md) on Python's http.client, over the
unix socket or TCP with a bearer token. Used by scenarios.py and the service's integration tests."""
import http.client
import json
import socket


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Client:
    """One keep-alive connection. `address` is "unix:/path" or "tcp:HOST:PORT"."""

    def __init__(self, address, token=None, timeout=120):
        kind, _, rest = address.partition(":")
        if kind == "unix":
            self.conn = UnixHTTPConnection(rest, timeout)
        elif kind == "tcp":
            host, _, port = rest.rpartition(":")
            self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        else:
            raise ValueError("address must be unix:PATH or tcp:HOST:PORT, got " + address)
        self.token = token
        self.sockets_used = set()  # distinct sockets: 1 means every request kept the connection

    def request(self, method, path, body=None):
        headers = {}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        self.sockets_used.add(id(self.conn.sock))
        resp = self.conn.getresponse()
        raw = resp.read()
        ctype = resp.getheader("Content-Type", "")
        payload = json.loads(raw) if ctype.startswith("application/json") else raw.decode("utf-8", "replace")
        return resp.status, dict(resp.getheaders()), payload

    def submit(self, job, wait=None):
        path = "/v1/jobs" + ("?wait=%g" % wait if wait is not None else "")
        return self.request("POST", path, job)

    def wait_done(self, job_id, poll_seconds=30):
        """Long-polls until the job is done; returns its record."""
        while True:
            status, _, record = self.request("GET", "/v1/jobs/%s/wait?timeout=%g" % (job_id, poll_seconds))
            if status != 200:
                raise RuntimeError("wait %s: %d %s" % (job_id, status, record))
            if record["state"] == "done":
                return record

    def close(self):
        self.conn.close()
