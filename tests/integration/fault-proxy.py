#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A fault-injecting HTTP proxy in front of a registry, for the registry tests.

    fault-proxy.py LISTEN_PORT UPSTREAM_PORT RULES_FILE LOG_FILE

Requests are forwarded to 127.0.0.1:UPSTREAM_PORT with their Host header as
sent, so the registry's Location headers point back at the proxy. RULES_FILE
holds a JSON list of rules, re-read whenever it changes (which also resets
how often each has fired):

    {"method": "GET", "path": "/blobs/sha256:", "action": ACTION, "times": N, ...}

"method" (optional) must equal the request's; "path" is a regular expression
searched for in the path. A rule fires N times (times 0 or absent: always);
a drop or corrupt rule counts only when it did something (a body shorter
than its offset uses nothing up). Actions:

    status   answer "status" (500, 429, ...) with a registry error body and,
             if given, "retry_after" seconds; the request body is read and dropped
    drop     cut the connection after "after" bytes: of the response body
             (GET), or of the request body (PUT, PATCH), which is forwarded
             upstream first when "forward" is true
    corrupt  flip one byte of the request body (uploads) or of the response
             body (downloads) at offset "offset" (default 0)

Every request is logged to LOG_FILE as "METHOD PATH STATUS [fault]".
"""

import http.client
import json
import os
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1 << 20
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class Rules:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.stamp = None
        self.rules = []
        self.fired = []

    def match(self, method, path):
        with self.lock:
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            except FileNotFoundError:
                stamp = None
            if stamp != self.stamp:
                self.stamp = stamp
                self.rules = []
                if stamp:
                    with open(self.path) as f:
                        text = f.read().strip()
                    self.rules = json.loads(text) if text else []
                self.fired = [0] * len(self.rules)
            for i, r in enumerate(self.rules):
                if r.get("method") and r["method"] != method:
                    continue
                if not re.search(r.get("path", ""), path):
                    continue
                times = r.get("times", 0)
                if times and self.fired[i] >= times:
                    continue
                return Fault(self, i, r)
        return None

    def fire(self, i, stamp):
        """Use up one firing of rule @i; False when none is left (or the rules changed)."""
        with self.lock:
            if stamp != self.stamp:
                return False
            times = self.rules[i].get("times", 0)
            if times and self.fired[i] >= times:
                return False
            self.fired[i] += 1
            return True


class Fault:
    def __init__(self, rules, i, rule):
        self.rules, self.i, self.stamp = rules, i, rules.stamp
        self.action = rule.get("action")
        self.rule = rule

    def get(self, key, default=None):
        return self.rule.get(key, default)

    def fire(self):
        return self.rules.fire(self.i, self.stamp)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log(self, status, fault=None):
        with self.server.log_lock:
            with open(self.server.log_path, "a") as f:
                f.write("%s %s %s%s\n" % (self.command, self.path, status,
                                          " " + fault if fault else ""))

    def body_reader(self):
        """The request body as a generator of pieces (Content-Length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            piece = self.rfile.read(min(CHUNK, left))
            if not piece:
                return
            left -= len(piece)
            yield piece

    def cut(self):
        self.close_connection = True
        try:
            # RST rather than FIN: the client sees a reset, as on a real network failure
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
        except OSError:
            pass

    def answer(self, status, retry_after=None):
        for _ in self.body_reader():
            pass
        code = {429: "TOOMANYREQUESTS"}.get(status, "UNAVAILABLE")
        body = json.dumps({"errors": [{"code": code, "message": "fault proxy says %d" % status}]})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body.encode())
        self.log(status, "status")

    def handle_any(self):
        rule = self.server.rules.match(self.command, self.path)
        action = rule.action if rule else None
        if action == "status" and rule.fire():
            return self.answer(rule.get("status"), rule.get("retry_after"))

        has_body = "Content-Length" in self.headers or "Transfer-Encoding" in self.headers
        up = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=120)
        up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP_HEADERS:
                up.putheader(k, v)
        if has_body and "Content-Length" not in self.headers:
            up.putheader("Transfer-Encoding", "chunked")
        up.endheaders()

        if has_body:
            sent = 0
            chunked = "Content-Length" not in self.headers
            for piece in self.body_reader():
                if action == "corrupt" and self.command in ("PUT", "PATCH", "POST"):
                    off = rule.get("offset", 0) - sent
                    if 0 <= off < len(piece) and rule.fire():
                        piece = piece[:off] + bytes([piece[off] ^ 0xFF]) + piece[off + 1:]
                        self.log("-", "corrupted request byte")
                if action == "drop" and self.command in ("PUT", "PATCH"):
                    keep = rule.get("after", 0) - sent
                    if keep < len(piece) and rule.fire():
                        if rule.get("forward"):
                            up.send(piece[:max(keep, 0)])
                        up.close()
                        self.log("-", "dropped request after %d bytes" % rule.get("after", 0))
                        return self.cut()
                sent += len(piece)
                up.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                up.send(b"0\r\n\r\n")

        resp = up.getresponse()
        length = resp.getheader("Content-Length")
        body = None
        if self.command != "HEAD" and length is None:
            body = resp.read()
            length = str(len(body))
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_HEADERS and k.lower() != "content-length":
                self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        fault = None
        if self.command != "HEAD":
            sent = 0
            pieces = [body] if body is not None else iter(lambda: resp.read(CHUNK), b"")
            for piece in pieces:
                if action == "corrupt" and self.command == "GET":
                    off = rule.get("offset", 0) - sent
                    if 0 <= off < len(piece) and rule.fire():
                        piece = piece[:off] + bytes([piece[off] ^ 0xFF]) + piece[off + 1:]
                        fault = "corrupted response byte"
                if action == "drop" and self.command == "GET":
                    keep = rule.get("after", 0) - sent
                    if keep < len(piece) and rule.fire():
                        self.wfile.write(piece[:max(keep, 0)])
                        self.wfile.flush()
                        up.close()
                        self.log(resp.status, "dropped response after %d bytes" % keep)
                        return self.cut()
                sent += len(piece)
                self.wfile.write(piece)
        up.close()
        self.log(resp.status, fault)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    port, upstream, rules, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.upstream = upstream
    server.rules = Rules(rules)
    server.log_path = log
    server.log_lock = threading.Lock()
    server.serve_forever()


if __name__ == "__main__":
    main()
