"""A service's HTTP edge: what is refused before any route runs, and where a service's own routes listen.

- Bodies over the limit get 413, counted on the bytes as they arrive (a chunked body has no
  Content-Length to check): twice MAX_REQUEST_BYTES on /graphql (the gateway's entity batches), 1 MB
  on a service's own routes (webhooks). Compressed bodies get 415: nothing here inflates them.
- In production (FLYWHEEL_ENV=production) /graphql answers only requests that carry the gateway's
  secret (GATEWAY_SECRET in x-flywheel-gateway, added by gateway/gateway.config.ts): nobody else gets
  a query, `_service` or GraphiQL (which is off in production anyway). The composition step reads
  the schemas in-process (infra/export_sdl.py) and needs no HTTP.
- The client address a resolver keys per-client limits on: the one the gateway decided on
  (x-flywheel-client, from trusted proxies only), when the request carries the gateway's secret; else
  the socket's peer.
- A service's own routes (customers' platform webhooks, notifications' links in messages) get a
  listener of their own with <SERVICE>_PUBLIC_PORT; in production they are served there only, so the
  one port that must be reachable from outside serves nothing else.
- Production refuses to start with credentials under 128 bits: API keys, JWT_SECRET, GATEWAY_SECRET.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.settings import DEV_GATEWAY_SECRET, DEV_JWT_SECRET, Settings

GATEWAY_HEADER = "x-flywheel-gateway"
CLIENT_HEADER = "x-flywheel-client"
OWN_ROUTES_MAX_BYTES = 1_000_000
# 32 characters: 128 bits as hex, 192 as base64url (`secrets.token_urlsafe(32)` gives 43).
MIN_SECRET_LENGTH = 32


def refusal(status: int, message: str, code: str, *, close: bool = False) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status,
                        headers={"connection": "close"} if close else None)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


async def body_too_large(request: Request, exc: Exception) -> JSONResponse:
    # The body may still be arriving, without end: the connection is not kept for another request.
    return refusal(413, str(exc), "BAD_USER_INPUT", close=True)


# Starlette's exception middleware answers for a route whose body read went over the limit.
EXCEPTION_HANDLERS = {BodyTooLarge: body_too_large}


class BodyLimit:
    """413 for a body over the limit, as it arrives; 415 for a compressed one."""

    def __init__(self, app: ASGIApp, graphql_bytes: int, other_bytes: int = OWN_ROUTES_MAX_BYTES) -> None:
        self.app, self.graphql_bytes, self.other_bytes = app, graphql_bytes, other_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.graphql_bytes if scope["path"] == "/graphql" else self.other_bytes
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if headers.get("content-encoding", "identity").strip().lower() != "identity":
            await refusal(415, "compressed request bodies are not accepted", "BAD_USER_INPUT")(scope, receive, send)
        elif length is not None and not length.isdigit():
            await refusal(400, "invalid Content-Length", "BAD_USER_INPUT")(scope, receive, send)
        elif length is not None and int(length) > limit:
            await refusal(413, f"request body over {limit} bytes", "BAD_USER_INPUT")(scope, receive, send)
        else:
            received = 0

            async def counted() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(limit)
                return message

            await self.app(scope, counted, send)


def from_gateway(headers: Headers, settings: Settings) -> bool:
    presented = headers.get(GATEWAY_HEADER)
    return presented is not None and bool(settings.gateway_secret) and hmac.compare_digest(
        presented.encode(), settings.gateway_secret.encode())


class GatewayOnly:
    """Production: GraphQL for the gateway only (the health checks stay open to the orchestrator)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql" and not from_gateway(
                Headers(scope=scope), self.settings):
            await refusal(403, "this subgraph answers the gateway only", "FORBIDDEN")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def middleware(settings: Settings) -> list[Middleware]:
    guards = [Middleware(BodyLimit, graphql_bytes=2 * settings.max_request_bytes)]
    if settings.production:
        guards.append(Middleware(GatewayOnly, settings=settings))
    return guards


def client_address(request: Request, settings: Settings) -> str:
    if from_gateway(request.headers, settings) and request.headers.get(CLIENT_HEADER):
        return request.headers[CLIENT_HEADER]
    return request.client.host if request.client else "unknown"


def weak_credentials(settings: Settings) -> list[str]:
    weak = [f"the {entry.role} API key of shop {entry.shop}" for entry in settings.api_keys.values()
            if len(entry.key) < MIN_SECRET_LENGTH]
    if len(settings.jwt_secret) < MIN_SECRET_LENGTH or settings.jwt_secret == DEV_JWT_SECRET:
        weak.append("JWT_SECRET")
    if len(settings.gateway_secret) < MIN_SECRET_LENGTH or settings.gateway_secret == DEV_GATEWAY_SECRET:
        weak.append("GATEWAY_SECRET")
    return weak


def refuse_weak_credentials(settings: Settings) -> None:
    """Production only: every credential random and of at least 128 bits, none a development default."""
    weak = weak_credentials(settings) if settings.production else []
    if weak:
        raise RuntimeError(
            f"FLYWHEEL_ENV=production: {', '.join(weak)} must carry at least 128 bits: "
            f"{MIN_SECRET_LENGTH} random characters or more, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))' (docs/operations.md)")


class OwnRoutesListener:
    """A service's own routes (and /healthz) on a port of their own, in the service's process and
    event loop, beside uvicorn's main listener; started and stopped by the app's lifespan."""

    def __init__(self, routes: Sequence[BaseRoute], host: str, port: int) -> None:
        async def healthz(request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok"})

        self.app = Starlette(routes=[*routes, Route("/healthz", healthz)],
                             middleware=[Middleware(BodyLimit, graphql_bytes=OWN_ROUTES_MAX_BYTES)],
                             exception_handlers=EXCEPTION_HANDLERS)
        self.config = uvicorn.Config(self.app, host=host, port=port, lifespan="off", access_log=False,
                                     log_level="warning", timeout_keep_alive=75)
        self.server: uvicorn.Server | None = None

    async def start(self, runtime: Any) -> None:
        self.app.state.runtime = runtime
        self.config.load()
        server = uvicorn.Server(self.config)
        # Server.serve() would take over the process's signals; the main listener owns those.
        server.lifespan = self.config.lifespan_class(self.config)
        await server.startup()
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
