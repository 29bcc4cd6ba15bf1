"""Public routes that messages link to: the open pixel, the click redirect and the unsubscribe
page. Each takes a signed token (links.py) and calls one use case: engagement.track (opens and
clicks become `notification.opened` / `notification.clicked`, once per message each) or
contacts.unsubscribe."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from services.notifications import contacts, engagement
from services.notifications.links import Links

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"cache-control": "no-store"}


def routes(links: Links) -> list[Route]:
    async def tracked(request: Request, action: str) -> dict[str, Any] | None:
        claims = links.verify(request.path_params["token"], action)
        if claims is not None:
            await engagement.track(request.app.state.runtime.pool, claims["s"], claims["d"], action, claims.get("u"))
        return claims

    async def opened(request: Request) -> Response:
        await tracked(request, "open")
        return Response(PIXEL, media_type="image/gif", headers=NO_STORE)

    async def clicked(request: Request) -> Response:
        claims = await tracked(request, "click")
        if claims is None:
            return Response("unknown link", status_code=404)
        return RedirectResponse(claims["u"], status_code=302, headers=NO_STORE)

    async def unsubscribe(request: Request) -> Response:
        token = request.query_params.get("token", "")
        claims = links.verify(token, "unsub")
        if claims is None:
            return HTMLResponse("<p>This link is not valid.</p>", status_code=404)
        if request.method == "GET":  # a mail scanner following links must not unsubscribe anyone
            return HTMLResponse(
                '<form method="post"><p>Stop receiving these messages?</p>'
                '<button type="submit">Unsubscribe</button></form>')
        await contacts.unsubscribe(request.app.state.runtime.pool, claims["s"], claims["c"], claims["ch"])
        return HTMLResponse("<p>You are unsubscribed.</p>")

    return [
        Route("/t/o/{token}", opened, methods=["GET"]),
        Route("/t/c/{token}", clicked, methods=["GET"]),
        Route("/unsubscribe", unsubscribe, methods=["GET", "POST"]),
    ]
