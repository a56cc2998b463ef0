#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A token service for docker-registry's token auth, for the registry tests.

    token-issuer.py PORT KEY_PEM CERT_PEM SERVICE ISSUER USER:PASSWORD LOG_FILE

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...] answers
{"token", "access_token", "expires_in", "issued_at"}: an RS256 JWT whose
x5c header holds CERT_PEM (the registry's rootcertbundle). With Basic
credentials equal to USER:PASSWORD every action asked for is granted;
with wrong ones the answer is 401; anonymous requests get "pull" only, as
a public registry grants. Signing goes through the openssl command, so no
Python crypto library is needed. Each request is logged to LOG_FILE.
"""

import base64
import json
import subprocess
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="kiln-token"')
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        srv = self.server
        url = urlparse(self.path)
        q = parse_qs(url.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            if base64.b64decode(auth[6:]).decode() != srv.creds:
                with open(srv.log, "a") as f:
                    f.write("refused %s\n" % " ".join(q.get("scope", [])))
                return self.reply(401, {"details": "wrong credentials"})
            user = srv.creds.split(":", 1)[0]
        access = []
        for scope in q.get("scope", []):
            parts = scope.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue
            actions = parts[-1].split(",")
            if user is None:
                actions = [a for a in actions if a == "pull"]
            access.append({"type": "repository", "name": ":".join(parts[1:-1]),
                           "actions": actions})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [srv.cert_der]}
        claims = {"iss": srv.issuer, "sub": user or "", "aud": q.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()),
                  "access": access}
        signing = (b64url(json.dumps(header).encode()) + "." +
                   b64url(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", srv.key], input=signing,
                             capture_output=True, check=True).stdout
        token = signing.decode() + "." + b64url(sig)
        with open(srv.log, "a") as f:
            f.write("token %s %s\n" % (user or "anonymous", " ".join(q.get("scope", []))))
        self.reply(200, {"token": token, "access_token": token, "expires_in": 300,
                         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    port, key, cert, service, issuer, creds, log = sys.argv[1:]
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                         capture_output=True, check=True).stdout
    srv = ThreadingHTTPServer(("127.0.0.1", int(port)), Issuer)
    srv.daemon_threads = True
    srv.key, srv.cert_der, srv.service, srv.issuer = key, base64.b64encode(der).decode(), \
        service, issuer
    srv.creds, srv.log = creds, log
    srv.serve_forever()


if __name__ == "__main__":
    main()
