"""ASGI entry point: `uvicorn console.server:app` on CONSOLE_PORT.

  /             the admin console (static web app; talks to the gateway with the admin key)
  /widget.js    the storefront widget, one script (a web component)
  /demo         a sample storefront using the widget (`make demo` seeds its shop)
  /live         server-sent events for the signed-in caller (customer JWT or admin credential)
  /config.json  where the browser finds the gateway
  /demo/token   DEMO ONLY: a customer token for the demo page's customer; off in production
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console.live import LIVE_EVENTS, Hub, Listener
from shared.auth import authenticate
from shared.bus import Bus, LiveConsumer
from shared.errors import FlywheelError
from shared.settings import Settings

STATIC = Path(__file__).parent / "static"
DEMO_SHOP = os.environ.get("DEMO_SHOP", "demo")
DEMO_CUSTOMER = os.environ.get("DEMO_CUSTOMER_ID", "demo-anna")

log = logging.getLogger("console")
settings = Settings.from_env("console")
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
        return JSONResponse({"error": "a customer token or an admin credential is required", "code": code},
                            status_code=401 if code == "UNAUTHENTICATED" else 403)
    return StreamingResponse(hub.stream(listener), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


async def config(request: Request) -> JSONResponse:
    gateway = os.environ.get("CONSOLE_GATEWAY_URL") or (
        f"http://{request.url.hostname}:{os.environ.get('GATEWAY_PORT', '4000')}/graphql")
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


_origins = [o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()] or ["*"]
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
    middleware=[Middleware(CORSMiddleware, allow_origins=_origins, allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "x-api-key", "content-type"])],
    lifespan=lifespan,
)
