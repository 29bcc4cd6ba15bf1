"""ASGI entry point: `uvicorn console.server:app` on CONSOLE_PORT.

  /             the admin console (static web app; talks to the gateway with the admin key)
  /widget.js    the storefront widget, one script (a web component)
  /demo         a sample storefront using the widget (`make demo` seeds its shop)
  /live         server-sent events for the signed-in caller (customer JWT or admin credential)
  /config.json  where the browser finds the gateway
  /demo/token   DEMO ONLY: a customer token for the demo page's customer; off in production

Every response carries a Content-Security-Policy (scripts from here only, connections to here and
the gateway, no framing), X-Frame-Options and X-Content-Type-Options. Cross-origin calls (the widget
on a storefront reaching /live) follow the gateway's rule: the origins in CORS_ORIGINS, else in
development the loopback origins, in production none; never `null`, never with credentials.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.live import LIVE_EVENTS, Hub, Listener
from shared.auth import authenticate
from shared.bus import Bus, LiveConsumer
from shared.edge import refuse_weak_credentials
from shared.errors import FlywheelError
from shared.settings import Settings

STATIC = Path(__file__).parent / "static"
DEMO_SHOP = os.environ.get("DEMO_SHOP", "demo")
DEMO_CUSTOMER = os.environ.get("DEMO_CUSTOMER_ID", "demo-anna")

log = logging.getLogger("console")
settings = Settings.from_env("console")
refuse_weak_credentials(settings)
hub = Hub()
bus = Bus(settings.amqp_url, client_name="console")
bus.add_consumer(LiveConsumer(bus=bus, name="console.live", routing_keys=LIVE_EVENTS, callback=hub.on_event))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s console %(levelname)s %(name)s: %(message)s")
    bus.start_in_background()
    try:
        yield
    finally:
        await bus.close()


def _production() -> bool:
    return os.environ.get("FLYWHEEL_ENV", "development") == "production"


async def live(request: Request) -> StreamingResponse | JSONResponse:
    try:
        principal = authenticate(request.headers, settings)
    except FlywheelError as exc:
        return JSONResponse({"error": exc.message, "code": exc.code}, status_code=401)
    if principal.kind == "customer":
        listener = Listener(shop=principal.shop, customer_id=principal.customer_id)
    elif principal.kind == "admin":
        listener = Listener(shop=principal.shop, customer_id=None)
    else:
        code = "UNAUTHENTICATED" if principal.kind == "public" else "FORBIDDEN"
        message = "token expired" if principal.token_expired else "a customer token or an admin credential is required"
        return JSONResponse({"error": message, "code": code},
                            status_code=401 if code == "UNAUTHENTICATED" else 403)
    return StreamingResponse(hub.stream(listener), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


def gateway_url(request: Request) -> str:
    return os.environ.get("CONSOLE_GATEWAY_URL") or (
        f"http://{request.url.hostname}:{os.environ.get('GATEWAY_PORT', '4000')}/graphql")


async def config(request: Request) -> JSONResponse:
    gateway = gateway_url(request)
    return JSONResponse({"gatewayUrl": gateway, "liveUrl": str(request.url_for("live")),
                         "demoShop": DEMO_SHOP, "demoCustomer": DEMO_CUSTOMER})


async def demo_token(request: Request) -> JSONResponse:
    """DEMO ONLY. A real storefront gets its customer's token from its own back end; this mints
    one for the seeded demo customer so the demo page works without one. Refused in production."""
    if _production():
        return JSONResponse({"error": "the demo token is off in production", "code": "FORBIDDEN"}, status_code=403)
    token = jwt.encode({"sub": DEMO_CUSTOMER, "shop": DEMO_SHOP, "exp": int(time.time()) + 3600},
                       settings.jwt_secret, algorithm="HS256")
    return JSONResponse({"token": token, "shop": DEMO_SHOP, "customerId": DEMO_CUSTOMER})


def page(name: str):
    async def serve(request: Request) -> FileResponse:
        return FileResponse(STATIC / name, headers={"cache-control": "no-cache"})
    return serve


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": "console"})


async def readyz(request: Request) -> JSONResponse:
    ready = bus.connected
    return JSONResponse({"ready": ready, "broker": ready}, status_code=200 if ready else 503)


class SecurityHeaders:
    """The console's pages run its own scripts only and talk to itself and the gateway only; inline
    styles stay allowed (the widget styles its shadow DOM with a <style> element)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gateway = re.match(r"[^:]+://[^/]+", gateway_url(Request(scope)))
        policy = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                  f"connect-src 'self' {gateway.group(0) if gateway else ''}; object-src 'none'; base-uri 'none'; "
                  "form-action 'self'; frame-ancestors 'none'")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = policy
                headers["x-frame-options"] = "DENY"
                headers["x-content-type-options"] = "nosniff"
                headers["referrer-policy"] = "same-origin"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cors_origins() -> dict[str, str | list[str]]:
    """Starlette's CORS settings for the allow-list (the same rule as gateway/protections.ts)."""
    configured = [o.strip().lower() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()]
    for origin in configured:
        if origin == "null" or not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ValueError(f"CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port]); * and null never are")
    if configured or _production():
        return {"allow_origins": configured}
    return {"allow_origin_regex": r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?"}


app = Starlette(
    routes=[
        Route("/", page("index.html")),
        Route("/demo", page("demo.html")),
        Route("/widget.js", page("widget.js")),
        Route("/live", live, name="live"),
        Route("/config.json", config),
        Route("/demo/token", demo_token, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ],
    middleware=[Middleware(SecurityHeaders),
                Middleware(CORSMiddleware, **cors_origins(), allow_methods=["GET", "POST"],  # type: ignore[arg-type]
                           allow_headers=["authorization", "x-api-key", "content-type"])],
    lifespan=lifespan,
)
