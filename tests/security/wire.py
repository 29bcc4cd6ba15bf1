"""HTTP spoken on a raw socket, for what an HTTP client library will not send: a chunked body that
never ends, a WebSocket handshake. Each call answers with the status line the server sent (or None
when it sent nothing before the timeout)."""

from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

CHUNK = 64 * 1024


def _status(sock: socket.socket, deadline: float) -> int | None:
    received = b""
    while b"\r\n" not in received:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except (TimeoutError, ConnectionResetError):
            return None
        if not data:
            return None
        received += data
    return int(received.split(b" ", 2)[1])


def endless_chunked_post(url: str, headers: dict[str, str], *, send_bytes: int, timeout: float = 10) -> int | None:
    """POST a chunked body of `send_bytes` bytes that never ends (no last chunk), then wait for an
    answer: a server that counts bytes as they arrive answers (413) without the end of the body; one
    that reads the whole body first waits for it, and we get None."""
    parts = urlsplit(url)
    head = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", "Transfer-Encoding: chunked",
            *(f"{k}: {v}" for k, v in headers.items())]
    deadline = time.monotonic() + timeout
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.sendall(b"%x\r\n" % 2 + b'{"\r\n')  # the start of a JSON object, then padding that never closes
        sent = 2
        chunk = b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"
        try:
            # Stop sending once the server answers: writing on would only get the answer reset away.
            while sent < send_bytes and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk)
                sent += CHUNK
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading and may have answered already
        return _status(sock, deadline)


def websocket_handshake(url: str, *, timeout: float = 5) -> int | None:
    parts = urlsplit(url)
    request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n")
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request.encode())
        return _status(sock, time.monotonic() + timeout)
