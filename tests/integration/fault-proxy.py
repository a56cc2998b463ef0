#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A fault-injecting HTTP proxy in front of a registry, for the registry tests.

    fault-proxy.py LISTEN_PORT UPSTREAM_PORT RULES_FILE LOG_FILE [STORAGE_PORT]

Requests are forwarded to 127.0.0.1:UPSTREAM_PORT with their Host header as
sent, so the registry's Location headers point back at the proxy. RULES_FILE
holds a JSON list of rules, re-read whenever it changes (which also resets
how often each has fired):

    {"method": "GET", "path": "/blobs/sha256:", "action": ACTION, "times": N, ...}

"method" (optional) must equal the request's; "path" is a regular expression
searched for in the path. A rule fires N times (times 0 or absent: always);
a rule that acts on a body counts only when it did something (a body shorter
than its offset uses nothing up). Actions:

    status    answer "status" (500, 429, 403, ...) with a registry error body
              ("code", else one that fits the status) and, if given,
              "retry_after" seconds; the request body is read and dropped
    drop      cut the connection after "after" bytes: of the response body
              (GET), or of the request body (PUT, PATCH), which is forwarded
              upstream first when "forward" is true
    corrupt   flip one byte of the request body (uploads) or of the response
              body (downloads) at offset "offset" (default 0)
    truncate  a body of "after" bytes that says it is whole: a 2xx response
              claims Content-Length "after" and ends cleanly there; a PUT or
              PATCH reaches the registry as its first "after" bytes
    stall     after "after" bytes of the response body (GET), or of the
              request body (PUT, PATCH), send or read nothing for "seconds",
              then cut the connection
    redirect  (GET, with STORAGE_PORT) fetch the blob from the registry and
              answer 307 to http://127.0.0.1:STORAGE_PORT/storage/DIGEST, a
              second server standing for the storage registries send blob
              reads to: it serves the bytes with Range support, applies the
              rules to its own requests (paths /storage/...) and logs each
              request that carried an Authorization header with "authorization"

Every request is logged to LOG_FILE as "METHOD PATH STATUS [fault]".
"""

import http.client
import json
import os
import re
import socket
import sys
import threading
import time
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


ERROR_CODES = {400: "BLOB_UPLOAD_INVALID", 403: "DENIED", 404: "BLOB_UNKNOWN",
               429: "TOOMANYREQUESTS"}


class Base(BaseHTTPRequestHandler):
    """What the proxy and the storage server share: logging, cutting, faulty bodies."""

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

    def answer(self, rule):
        for _ in self.body_reader():
            pass
        status = rule.get("status")
        code = rule.get("code") or ERROR_CODES.get(status, "UNAVAILABLE")
        body = json.dumps({"errors": [{"code": code, "message": "fault proxy says %d" % status}]})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if rule.get("retry_after") is not None:
            self.send_header("Retry-After", str(rule.get("retry_after")))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body.encode())
        self.log(status, "status")

    def reply(self, status, reason, headers, length, pieces, rule, upstream=None, note=None):
        """Send a response of @length bytes (None: unknown) from @pieces with @rule's faults."""
        action = rule.action if rule else None
        if (action == "truncate" and self.command == "GET" and 200 <= status < 300 and
                length is not None and int(length) > rule.get("after", 0) and rule.fire()):
            length = str(rule.get("after", 0))
            note = "truncated response to %s bytes" % length
        self.send_response_only(status, reason)
        for k, v in headers:
            if k.lower() not in HOP_HEADERS and k.lower() != "content-length":
                self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        if self.command == "HEAD":
            return self.log(status, note)
        sent = 0
        for piece in pieces:
            if length is not None:
                piece = piece[:int(length) - sent]
                if not piece:
                    break
            if action == "corrupt" and self.command == "GET":
                off = rule.get("offset", 0) - sent
                if 0 <= off < len(piece) and rule.fire():
                    piece = piece[:off] + bytes([piece[off] ^ 0xFF]) + piece[off + 1:]
                    note = "corrupted response byte"
            if action in ("drop", "stall") and self.command == "GET":
                keep = rule.get("after", 0) - sent
                if keep < len(piece) and rule.fire():
                    self.wfile.write(piece[:max(keep, 0)])
                    self.wfile.flush()
                    if upstream:
                        upstream.close()
                    if action == "stall":
                        self.log(status, "stalled response after %d bytes" % rule.get("after", 0))
                        time.sleep(rule.get("seconds", 30))
                    else:
                        self.log(status, "dropped response after %d bytes" % rule.get("after", 0))
                    return self.cut()
            sent += len(piece)
            self.wfile.write(piece)
        self.log(status, note)


class Handler(Base):
    def send_upstream(self, rule):
        """Forward the request; an HTTPConnection to read the answer from, or None when cut."""
        action = rule.action if rule else None
        has_body = "Content-Length" in self.headers or "Transfer-Encoding" in self.headers
        chunked = has_body and "Content-Length" not in self.headers
        uploading = has_body and self.command in ("PUT", "PATCH")
        limit = None
        if (action == "truncate" and uploading and not chunked and
                int(self.headers["Content-Length"]) > rule.get("after", 0) and rule.fire()):
            limit = rule.get("after", 0)
        up = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=120)
        up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP_HEADERS and not (limit is not None and
                                                     k.lower() == "content-length"):
                up.putheader(k, v)
        if limit is not None:
            up.putheader("Content-Length", str(limit))
            self.log("-", "truncated request to %d bytes" % limit)
        if chunked:
            up.putheader("Transfer-Encoding", "chunked")
        up.endheaders()
        if not has_body:
            return up
        sent = 0
        for piece in self.body_reader():
            if action == "corrupt" and self.command in ("PUT", "PATCH", "POST"):
                off = rule.get("offset", 0) - sent
                if 0 <= off < len(piece) and rule.fire():
                    piece = piece[:off] + bytes([piece[off] ^ 0xFF]) + piece[off + 1:]
                    self.log("-", "corrupted request byte")
            if action in ("drop", "stall") and uploading:
                keep = rule.get("after", 0) - sent
                if keep < len(piece) and rule.fire():
                    if rule.get("forward"):
                        up.send(piece[:max(keep, 0)])
                    up.close()
                    if action == "stall":
                        self.log("-", "stalled request after %d bytes" % rule.get("after", 0))
                        time.sleep(rule.get("seconds", 30))
                    else:
                        self.log("-", "dropped request after %d bytes" % rule.get("after", 0))
                    self.cut()
                    return None
            if limit is not None:
                piece = piece[:max(limit - sent, 0)]
            sent += len(piece)
            if piece:
                up.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            up.send(b"0\r\n\r\n")
        return up

    def redirect(self):
        """Fetch the whole blob from the registry for the storage server; answer 307."""
        up = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in HOP_HEADERS and k.lower() != "range"}
        up.request("GET", self.path, headers=headers)
        resp = up.getresponse()
        body = resp.read()
        up.close()
        if resp.status != 200:
            return self.reply(resp.status, resp.reason, resp.getheaders(), str(len(body)),
                              [body], None)
        digest = self.path.rsplit("/", 1)[1]
        self.server.storage.blobs[digest] = body
        self.send_response(307)
        self.send_header("Location", "http://127.0.0.1:%d/storage/%s" %
                         (self.server.storage.server_port, digest))
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.log(307, "redirect")

    def handle_any(self):
        rule = self.server.rules.match(self.command, self.path)
        action = rule.action if rule else None
        if action == "status" and rule.fire():
            return self.answer(rule)
        if action == "redirect" and self.command == "GET" and rule.fire():
            return self.redirect()
        up = self.send_upstream(rule)
        if up is None:
            return
        resp = up.getresponse()
        length = resp.getheader("Content-Length")
        pieces = iter(lambda: resp.read(CHUNK), b"")
        if self.command != "HEAD" and length is None:
            body = resp.read()
            length, pieces = str(len(body)), [body]
        self.reply(resp.status, resp.reason, resp.getheaders(), length, pieces, rule, up)
        up.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Storage(Base):
    """Blob storage behind a redirect: GET /storage/DIGEST, with Range."""

    def do_GET(self):
        if "Authorization" in self.headers:
            self.log("-", "authorization")
        rule = self.server.rules.match(self.command, self.path)
        if rule and rule.action == "status" and rule.fire():
            return self.answer(rule)
        body = self.server.blobs.get(self.path.rsplit("/", 1)[1])
        if body is None:
            return self.reply(404, "Not Found", [], "0", [], None)
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        start = int(m.group(1)) if m else 0
        if start >= len(body) and m:
            return self.reply(416, "Range Not Satisfiable", [], "0", [], None)
        headers = [("Content-Type", "application/octet-stream")]
        if m:
            headers.append(("Content-Range", "bytes %d-%d/%d" % (start, len(body) - 1, len(body))))
        part = memoryview(body)[start:]
        pieces = (bytes(part[i:i + CHUNK]) for i in range(0, len(part), CHUNK))
        self.reply(206 if m else 200, "Partial Content" if m else "OK", headers,
                   str(len(part)), pieces, rule)


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    port, upstream, rules, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    servers = [ThreadingHTTPServer(("127.0.0.1", port), Handler)]
    if len(sys.argv) == 6:
        servers.append(ThreadingHTTPServer(("127.0.0.1", int(sys.argv[5])), Storage))
        servers[1].blobs = {}
        servers[0].storage = servers[1]
    shared_rules, log_lock = Rules(rules), threading.Lock()
    for server in servers:
        server.daemon_threads = True
        server.upstream = upstream
        server.rules = shared_rules
        server.log_path = log
        server.log_lock = log_lock
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
