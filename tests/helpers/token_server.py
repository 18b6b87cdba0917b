#!/usr/bin/env python3
"""A small docker token server for the registry client tests (127.0.0.1 only).

    token_server.py PORT KEY.pem CERT.pem ISSUER SERVICE USERS LOGFILE

Issues RS256 JWTs (signed with `openssl dgst`, the certificate in the x5c header) that
docker-registry's `auth: token` accepts when CERT.pem is its rootcertbundle.  USERS is
"name:password,..."; an authenticated user gets every action asked for, an anonymous client
gets "pull" on repositories under "public/" only.  GET /token takes Basic credentials;
POST /token takes the OAuth2 refresh-token grant, where refresh token "refresh-<name>"
stands for user <name>.  GET /control?expires_in=N&first_exp_offset=S changes the lifetime
announced in expires_in and, for the next token only, sets its JWT exp to now+S.
Every token request is logged as "TOKEN user=U scope=S".
"""
import base64
import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.parse

PORT, KEY, CERT, ISSUER, SERVICE, USERS, LOG = sys.argv[1:8]
PORT = int(PORT)
USERS = dict(u.split(":", 1) for u in USERS.split(",") if u)
state = {"expires_in": 300, "first_exp_offset": None, "n": 0}
lock = threading.Lock()

with open(CERT) as f:
    pem = f.read()
DER_B64 = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(payload):
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=payload,
                          capture_output=True, check=True).stdout


def make_token(user, scopes, exp_offset):
    access = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) < 3 or parts[0] != "repository":
            continue
        name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
        if user is None:
            actions = [a for a in actions if a == "pull" and name.startswith("public/")]
        access.append({"type": "repository", "name": name, "actions": actions})
    now = int(time.time())
    with lock:
        state["n"] += 1
        jti = "t%d" % state["n"]
    claims = {"iss": ISSUER, "sub": user or "", "aud": SERVICE, "exp": now + exp_offset,
              "nbf": now - 10, "iat": now, "jti": jti, "access": access}
    header = {"typ": "JWT", "alg": "RS256", "x5c": [DER_B64]}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    return signing_input.decode() + "." + b64url(sign(signing_input))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def issue(self, user, scopes):
        with lock:
            expires_in = state["expires_in"]
            offset = state["first_exp_offset"]
            state["first_exp_offset"] = None
        with open(LOG, "a") as f:
            f.write("TOKEN user=%s scope=%s\n" % (user or "-", " ".join(scopes)))
        tok = make_token(user, scopes, offset if offset is not None else max(expires_in, 60))
        self.send_json(200, {"token": tok, "access_token": tok, "expires_in": expires_in,
                             "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path == "/control":
            with lock:
                if "expires_in" in q:
                    state["expires_in"] = int(q["expires_in"][0])
                if "first_exp_offset" in q:
                    state["first_exp_offset"] = int(q["first_exp_offset"][0])
            self.send_json(200, {})
            return
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if USERS.get(name) != pw:
                with open(LOG, "a") as f:
                    f.write("DENIED user=%s\n" % name)
                self.send_json(401, {"errors": [{"code": "UNAUTHORIZED",
                                                 "message": "incorrect username or password"}]})
                return
            user = name
        if q.get("service", [""])[0] != SERVICE:
            self.send_json(400, {"errors": [{"code": "DENIED", "message": "unknown service"}]})
            return
        self.issue(user, q.get("scope", []))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        rt = form.get("refresh_token", [""])[0]
        user = rt[len("refresh-"):] if rt.startswith("refresh-") else None
        if form.get("grant_type", [""])[0] != "refresh_token" or user not in USERS:
            self.send_json(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad refresh token"}]})
            return
        scopes = " ".join(form.get("scope", [])).split()
        self.issue(user, scopes)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
