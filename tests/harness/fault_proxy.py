"""An HTTP reverse proxy on loopback that injects faults in front of a test registry.

    proxy = FaultProxy(registry.url).start()
    proxy.fail("PUT", r"/manifests/", times=2, status=503)      # first two manifest PUTs get 503, then forwarded
    proxy.fail("PATCH", r"/blobs/uploads/", times=1, reset=True)  # first upload chunk: TCP reset
    gate = proxy.hold("PATCH", r"/blobs/uploads/", skip=2)      # third chunk waits until gate.release()
    gate.arrived.wait(60); registry.kill(); gate.release()       # ... and then meets a dead registry: TCP reset
    ... push to proxy.host ...
    proxy.injected()   # what was injected, in order
    proxy.stop()

Requests are forwarded as they come (the Host header included, so the registry's ``Location`` headers point back at
the proxy), bodies streamed both ways, chunked or not. Bounded: the proxy stops by itself after ``lifetime`` seconds
and the fixture stops it at the end of the test. Plain HTTP on both sides.
"""
import http.client
import http.server
import json
import re
import socket
import struct
import threading
import urllib.parse

from harness.registry import LOOPBACK

# Hop-by-hop headers (RFC 9110 7.6.1), plus Date and Server, which send_response() writes itself.
HOP_BY_HOP = {"date", "server", "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}
PIECE = 256 * 1024


HOLD_LIMIT = 120


class FaultRule:
    """After ``skip`` matching requests pass, the next ``times`` get ``status``, a TCP reset, or are held at a gate."""

    def __init__(self, method, path_pattern, times, status=503, reset=False, retry_after=None, skip=0, gate=None):
        self.method = method.upper() if method else None
        self.path = re.compile(path_pattern)
        self.skip = skip
        self.remaining = times
        self.status = status
        self.reset = reset
        self.retry_after = retry_after
        self.gate = gate

    def matches(self, method, path):
        return self.remaining > 0 and (self.method in (None, method)) and self.path.search(path) is not None

    def consume(self):
        """True when this match is faulted, False when it is one of the ``skip`` that pass."""
        if self.skip > 0:
            self.skip -= 1
            return False
        self.remaining -= 1
        return True

    @property
    def action(self):
        if self.gate is not None:
            return "held"
        return "reset" if self.reset else str(self.status)


class Gate:
    """Holds requests until ``release()``; ``arrived`` is set when the first held request is waiting."""

    def __init__(self):
        self.arrived = threading.Event()
        self.released = threading.Event()

    def release(self):
        self.released.set()


class FaultProxy:
    """See the module docstring."""

    def __init__(self, upstream_url, lifetime=600):
        upstream = urllib.parse.urlsplit(upstream_url)
        if upstream.scheme != "http":
            raise ValueError("the fault proxy forwards to plain HTTP registries only, not {0!r}".format(upstream_url))
        self.upstream = (upstream.hostname, upstream.port or 80)
        self.lifetime = lifetime
        self.rules = []
        self.log = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self._timer = None

    @property
    def host(self):
        return "{0}:{1}".format(LOOPBACK, self._server.server_address[1])

    @property
    def url(self):
        return "http://" + self.host

    def fail(self, method, path_pattern, times, status=503, reset=False, retry_after=None, skip=0):
        """Add a rule; rules are tried in the order added."""
        with self._lock:
            self.rules.append(FaultRule(method, path_pattern, times, status, reset, retry_after, skip))
        return self

    def hold(self, method, path_pattern, times=1, skip=0):
        """Hold matching requests (after ``skip`` pass) until the returned Gate is released, then forward them.

        Lets a test act at an exact point of a client's exchange, e.g. stop the registry while an upload is open.
        A held request is released after HOLD_LIMIT seconds anyway.
        """
        gate = Gate()
        with self._lock:
            self.rules.append(FaultRule(method, path_pattern, times, skip=skip, gate=gate))
        return gate

    def start(self):
        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        # Bounded even when a test forgets to stop it.
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self):
        server, self._server = self._server, None
        if server is None:
            return
        if self._timer:
            self._timer.cancel()
        server.shutdown()
        server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- bookkeeping -------------------------------------------------------------------------------------------
    def take_rule(self, method, path):
        """The rule that fires for this request (its count consumed), or None to forward."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    return rule if rule.consume() else None
        return None

    def record(self, method, path, action):
        with self._lock:
            self.log.append({"method": method, "path": path, "action": action})

    def requests(self):
        """Every request seen: {"method", "path", "action"}; action is "forwarded <status>", "503", "429", "reset", "held"..."""
        with self._lock:
            return list(self.log)

    def injected(self):
        return [entry for entry in self.requests() if not entry["action"].startswith("forwarded")]


def _handler_for(proxy):
    class ProxyHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # pylint: disable=arguments-differ
            """Quiet: the test reads proxy.requests()."""

        def do_GET(self):  # pylint: disable=invalid-name
            self._handle()

        do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        def _handle(self):
            path = urllib.parse.urlsplit(self.path).path
            rule = proxy.take_rule(self.command, path)
            if rule is not None and rule.gate is not None:
                proxy.record(self.command, path, rule.action)
                rule.gate.arrived.set()
                rule.gate.released.wait(HOLD_LIMIT)
                rule = None
            if rule is None:
                try:
                    status = self._forward()
                except OSError:
                    proxy.record(self.command, path, "upstream unreachable: reset")
                    self._reset()
                    return
                proxy.record(self.command, path, "forwarded {0}".format(status))
            elif rule.reset:
                proxy.record(self.command, path, rule.action)
                self._reset()
            else:
                proxy.record(self.command, path, rule.action)
                self._inject_status(rule)

        # --- faults ----------------------------------------------------------------------------------------------
        def _reset(self):
            # SO_LINGER with a zero timeout: close() sends RST instead of FIN, like a crashed peer or a middlebox.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def _inject_status(self, rule):
            # Read the body first: a client still sending a large upload would otherwise see a broken pipe, not the status.
            for dummy in self._body_pieces():
                pass
            payload = b"" if self.command == "HEAD" else json.dumps(
                {"errors": [{"code": "UNAVAILABLE", "message": "fault proxy: injected HTTP {0}".format(rule.status)}]}).encode()
            self.send_response(rule.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if rule.retry_after is not None:
                self.send_header("Retry-After", str(rule.retry_after))
            self.end_headers()
            self.wfile.write(payload)

        # --- forwarding ------------------------------------------------------------------------------------------
        def _body_pieces(self):
            """The request body as it arrives, de-chunked when the client sent it chunked."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                yield from self._chunked_pieces()
                return
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                piece = self.rfile.read(min(PIECE, remaining))
                if not piece:
                    break
                remaining -= len(piece)
                yield piece

        def _chunked_pieces(self):
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailer lines, then the empty line that ends the body.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                yield self.rfile.read(size)
                self.rfile.readline()

        def _forward(self):
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=300)
            try:
                chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        upstream.putheader(name, value)
                if chunked:
                    upstream.putheader("Transfer-Encoding", "chunked")
                upstream.endheaders()
                for piece in self._body_pieces():
                    upstream.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                if chunked:
                    upstream.send(b"0\r\n\r\n")
                response = upstream.getresponse()
                self._relay(response)
                return response.status
            finally:
                upstream.close()

        def _relay(self, response):
            self.send_response(response.status, response.reason)
            length = response.getheader("Content-Length")
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            rechunk = length is None and self.command != "HEAD" and response.status not in (204, 304)
            if rechunk:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command == "HEAD":
                return
            while True:
                piece = response.read(PIECE)
                if not piece:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if rechunk else piece)
            if rechunk:
                self.wfile.write(b"0\r\n\r\n")

    return ProxyHandler
