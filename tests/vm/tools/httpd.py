#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""An ordinary HTTP/1.1 server for the VM scenarios; it knows nothing of baton.

GET /PATH   serves DIR/PATH (a file), or /gen/N: N pseudo-random bytes from a
            fixed seed (the same bytes every time, without a file).
POST /PATH  reads the body (Content-Length) and answers its sha256 in hex.

Every request is logged to stdout as one line
    CLIENT_ADDR:CLIENT_PORT METHOD PATH HOST STATUS BYTES
so that a scenario can check which server served whom, and that the address
is the client's, not the front-end's.

usage: httpd.py ADDR PORT DIR [PAUSE]   (ADDR IPv4 or IPv6)

With PAUSE (seconds), a connection's next request is read PAUSE seconds
after each response, byte by byte: what the client sent meanwhile waits in
the socket, received and not read.
"""
import hashlib
import http.server
import os
import random
import shutil
import socket
import sys
import time


def gen(n):
    rnd = random.Random(n)
    return rnd.randbytes(n)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def note(self, status, size):
        host, port = self.client_address[:2]
        print(f"{host}:{port} {self.command} {self.path} {self.headers.get('Host', '-')} "
              f"{status} {size}", flush=True)
        if self.server.pause:
            time.sleep(self.server.pause)

    def head(self, status, size, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(size))
        self.end_headers()

    def reply(self, status, body, ctype="application/octet-stream"):
        self.head(status, len(body), ctype)
        self.wfile.write(body)
        self.note(status, len(body))

    def reply_file(self, f):
        # In 64 KB pieces, as a real server sends files: hundreds of slow
        # downloads must not each hold the whole file in memory.
        size = os.fstat(f.fileno()).st_size
        self.head(200, size, "application/octet-stream")
        shutil.copyfileobj(f, self.wfile, 65536)
        self.note(200, size)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/gen/"):
            try:
                n = int(path[5:])
            except ValueError:
                return self.reply(400, b"bad size\n", "text/plain")
            if not 0 <= n <= 64 * 1024 * 1024:
                return self.reply(400, b"bad size\n", "text/plain")
            return self.reply(200, gen(n))
        full = os.path.join(self.server.root, path.lstrip("/"))
        if ".." in path or not os.path.isfile(full):
            return self.reply(404, b"not found\n", "text/plain")
        with open(full, "rb") as f:
            return self.reply_file(f)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        left = n
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        self.reply(200, (h.hexdigest() + "\n").encode(), "text/plain")


def main():
    addr, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0
    if pause:
        Handler.rbufsize = 0
    # A listen backlog like nginx's, not socketserver's 5.
    http.server.ThreadingHTTPServer.request_queue_size = 511
    server = http.server.ThreadingHTTPServer
    if ":" in addr:
        class Server6(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6
        server = Server6
    srv = server((addr, port), Handler)
    srv.root = root
    srv.pause = pause
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
