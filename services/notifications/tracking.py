"""Public routes that messages link to: the open pixel, the click redirect and the unsubscribe
page. Each takes a signed token (links.py); opens and clicks become `notification.opened` /
`notification.clicked` (once per message each), which feed engagement scores."""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from services.notifications import store
from services.notifications.links import Links
from shared import events, outbox

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"cache-control": "no-store"}


def routes(links: Links) -> list[Route]:
    async def tracked(request: Request, purpose: str, column: str) -> dict | None:
        claims = links.verify(request.path_params["token"], purpose)
        if claims is None:
            return None
        async with request.app.state.runtime.pool.acquire() as conn, conn.transaction():
            row = await store.mark_tracked(conn, claims["s"], claims["d"], column)
            if row is not None:
                fields = dict(shop=claims["s"], notification_id=claims["d"], customer_id=row["customer_id"],
                              channel=row["channel"], template=row["template"])
                data = (events.NotificationOpened(**fields) if purpose == "open"
                        else events.NotificationClicked(**fields, url=claims["u"]))
                await outbox.add(conn, data, source="notifications")
        return claims

    async def opened(request: Request) -> Response:
        await tracked(request, "open", "opened_at")
        return Response(PIXEL, media_type="image/gif", headers=NO_STORE)

    async def clicked(request: Request) -> Response:
        claims = await tracked(request, "click", "clicked_at")
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
        column = {"EMAIL": "email_opt", "SMS": "sms_opt", "WHATSAPP": "whatsapp_opt"}[claims["ch"]]
        async with request.app.state.runtime.pool.acquire() as conn, conn.transaction():
            await store.save_preferences(conn, claims["s"], claims["c"], {column: False})
        return HTMLResponse("<p>You are unsubscribed.</p>")

    return [
        Route("/t/o/{token}", opened, methods=["GET"]),
        Route("/t/c/{token}", clicked, methods=["GET"]),
        Route("/unsubscribe", unsubscribe, methods=["GET", "POST"]),
    ]
