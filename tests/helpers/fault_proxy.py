#!/usr/bin/env python3
"""Fault-injecting HTTP proxy for the registry client tests (127.0.0.1 only).

    fault_proxy.py PORT UPSTREAM_PORT LOGFILE

Forwards every request to the registry on 127.0.0.1:UPSTREAM_PORT, keeping the Host header
so the registry's Location URLs point back at the proxy.  A fault is armed with
GET /__fault?mode=M&count=N[&method=GET][&path=SUBSTRING] and applies to the next N
matching requests; mode=M1,M2,... applies M1 to the next matching request, M2 to the one
after, and so on:
  drop      send the headers and half of the body, then close the connection
  norange   forward without the Range header (the registry answers 200 with everything)
  fail500   answer 500 with a JSON error body
  fail429   answer 429 with Retry-After: 1
  stall     answer nothing for 60 s
  corrupt   flip one byte of the body
  paginate  serve tags/list in pages of 2 with a relative Link rel="next" (spec end-8b),
            as registries that paginate do (docker-registry 2.8 ignores n)
  redirect  answer 307 pointing at the registry itself (another host:port)
  hold      send the headers and all of the body but its last 64 KiB, then wait (at most
            60 s) until the file named by the fault's release=PATH exists, then the rest:
            the client has all those bytes while the blob's end is still to come
  ok        forward untouched (a placeholder in a sequence)
Every request is logged as "METHOD PATH range=VALUE fault=MODE".
"""
import http.client
import json
import http.server
import os
import socket
import sys
import threading
import time
import urllib.parse

PORT, UPSTREAM, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
rule = {"queue": [], "method": None, "path": None, "release": None}
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-connection"}


def log(line):
    with lock, open(LOG, "a") as f:
        f.write(line + "\n")


def take_fault(method, path):
    with lock:
        if not rule["queue"]:
            return None
        if rule["method"] and rule["method"] != method:
            return None
        if rule["path"] and rule["path"] not in path:
            return None
        return rule["queue"].pop(0)


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def handle_any(self):
        method = self.command
        if self.path.startswith("/__fault"):
            q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            with lock:
                modes = q.get("mode", [""])[0].split(",")
                count = int(q.get("count", ["1"])[0])
                rule["queue"] = modes * count if len(modes) == 1 else modes
                rule["method"] = q.get("method", [None])[0]
                rule["path"] = q.get("path", [None])[0]
                rule["release"] = q.get("release", [None])[0]
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = take_fault(method, self.path)
        log("%s %s range=%s fault=%s" % (method, self.path, self.headers.get("Range"), fault))
        if fault == "fail500":
            self.reply(500, b'{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}',
                       [("Content-Type", "application/json")])
            return
        if fault == "fail429":
            self.reply(429, b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
                       [("Content-Type", "application/json"), ("Retry-After", "1")])
            return
        if fault == "redirect":
            self.reply(307, b"", [("Location", "http://127.0.0.1:%d%s" % (UPSTREAM, self.path))])
            return
        if fault == "stall":
            time.sleep(60)
            self.close_connection = True
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if fault == "norange":
            headers.pop("Range", None)
        up = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=30)
        up.request(method, self.path, body=body if (body or method in ("PUT", "POST", "PATCH")) else None,
                   headers=headers)
        resp = up.getresponse()
        data = resp.read()
        up.close()
        out_headers = [(k, v) for k, v in resp.getheaders()
                       if k.lower() not in HOP and k.lower() != "content-length"]
        if fault == "paginate" and resp.status == 200:
            q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            doc = json.loads(data)
            tags = sorted(doc.get("tags") or [])
            last = q.get("last", [None])[0]
            if last is not None:
                tags = [t for t in tags if t > last]
            page, rest = tags[:2], tags[2:]
            data = json.dumps({"name": doc.get("name"), "tags": page}).encode()
            out_headers = [(k, v) for k, v in out_headers if k.lower() != "link"]
            if rest:
                out_headers.append(("Link", '<%s?n=2&last=%s>; rel="next"' % (
                    urllib.parse.urlparse(self.path).path, page[-1])))
                with lock:
                    rule["queue"].insert(0, "paginate")
        if fault == "corrupt" and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if fault == "hold" and len(data) > 65536:
            self.send_response(resp.status)
            for k, v in out_headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:-65536])
            self.wfile.flush()
            with lock:
                release = rule["release"]
            for _ in range(600):
                if release and os.path.exists(release):
                    break
                time.sleep(0.1)
            self.wfile.write(data[-65536:])
            return
        if fault == "drop" and len(data) > 1:
            self.send_response(resp.status)
            for k, v in out_headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.reply(resp.status, data, out_headers, head=(method == "HEAD"),
                   length=resp.getheader("Content-Length"))

    def reply(self, status, data, headers, head=False, length=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", length if head and length else str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


Server(("127.0.0.1", PORT), Proxy).serve_forever()
