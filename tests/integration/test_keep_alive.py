"""Each service keeps an idle connection open longer than the gateway does (Node's agent drops idle
sockets after 5 s). With equal timeouts a request could meet a socket the service was closing: the
caller got "socket hang up" as an INTERNAL_SERVER_ERROR after any quiet spell (found by fuzzing)."""

from __future__ import annotations

import socket
import time

from tests.stack import SERVICES, ensure_stack, port

GATEWAY_IDLE_SECONDS = 5


def ask(conn: socket.socket) -> bytes:
    """One request on an open connection; the whole response (head and body), or b"" if closed."""
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = conn.recv(4096)
        if not chunk:
            return response
        response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_services_keep_idle_connections_longer_than_the_gateway():
    ensure_stack()
    conns = {s: socket.create_connection(("127.0.0.1", port(s)), timeout=5) for s in SERVICES}
    try:
        for service, conn in conns.items():
            assert ask(conn).startswith(b"HTTP/1.1 200"), service
        time.sleep(GATEWAY_IDLE_SECONDS + 1.5)
        for service, conn in conns.items():
            assert ask(conn).startswith(b"HTTP/1.1 200"), f"{service} closed an idle connection within 6.5 s"
    finally:
        for conn in conns.values():
            conn.close()
