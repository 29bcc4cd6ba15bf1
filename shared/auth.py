"""Who is calling, and for which shop. Every subgraph checks this itself (defence in depth):
the gateway only forwards the headers.

  Authorization: Bearer <JWT>   customer (sub = customer id, shop claim) or admin (roles: [admin])
  X-Api-Key: <key>              server credentials with a role (ingest | admin) and one shop
  neither                       public; the shop comes from X-Shop (absent -> DEFAULT_SHOP)
A credential that is present but wrong (forged, garbled, unknown key) is an error, never public. A
genuine token past its `exp` (a storefront's stale session) is answered as a public caller of the
token's shop: public fields still work, anything that needs the token is UNAUTHENTICATED "token
expired" (docs/auth.md).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from shared.errors import BadUserInput, Forbidden, Unauthenticated
from shared.settings import Settings

Kind = Literal["public", "customer", "ingest", "admin"]
SHOP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CUSTOMER_ID_MAX = 200


@dataclass(frozen=True)
class Principal:
    kind: Kind
    shop: str
    customer_id: str | None = None
    token_expired: bool = False  # public only because the caller's genuine token expired

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    def require_admin(self) -> None:
        self._require_known()
        if self.kind != "admin":
            raise Forbidden("this needs an admin credential")

    def require_ingest(self) -> None:
        """Server-to-server writes from the commerce platform (admins may do them too)."""
        self._require_known()
        if self.kind not in ("ingest", "admin"):
            raise Forbidden("this needs an ingest or admin API key")

    def require_customer(self) -> str:
        self._require_known()
        if self.kind != "customer" or self.customer_id is None:
            raise Forbidden("this needs a customer token")
        return self.customer_id

    def require_customer_access(self, customer_id: str) -> None:
        """A customer reads only their own data; admins read anyone's in their shop."""
        self._require_known()
        if self.kind == "admin":
            return
        if self.kind == "customer" and self.customer_id == customer_id:
            return
        raise Forbidden("you may only access your own data")

    def _require_known(self) -> None:
        if self.kind == "public":
            raise Unauthenticated("token expired: get a fresh one" if self.token_expired
                                  else "credentials are required")


def _shop(value: str | None, default: str) -> str:
    shop = value or default
    if not SHOP_ID.match(shop):
        raise BadUserInput("invalid shop id")
    return shop


def _claims(token: str, secret: str, *, verify_exp: bool) -> dict[str, Any]:
    """The token's claims: HS256 with the shop's secret, `sub` and `exp` present, `exp`, `nbf` and `iat`
    with 30 s leeway; an `aud` claim is refused (no audience is configured)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["sub", "exp"], "verify_exp": verify_exp},
            leeway=30,
        )
    except jwt.ExpiredSignatureError:
        raise
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthenticated(f"invalid token: no {exc.claim!r} claim") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("invalid token") from exc
    return claims


def authenticate(headers: Mapping[str, str], settings: Settings) -> Principal:
    api_key = headers.get("x-api-key")
    if api_key:
        for known, entry in settings.api_keys.items():
            if hmac.compare_digest(known.encode(), api_key.encode()):
                return Principal(kind="admin" if entry.role == "admin" else "ingest", shop=entry.shop)
        raise Unauthenticated("unknown API key")

    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Authorization must be 'Bearer <token>'")
        try:
            claims = _claims(token.strip(), settings.jwt_secret, verify_exp=True)
        except jwt.ExpiredSignatureError:
            # The signature was checked before the expiry: this is the shop's own token, only stale.
            claims = _claims(token.strip(), settings.jwt_secret, verify_exp=False)
            return Principal(kind="public", shop=_shop(claims.get("shop"), settings.default_shop),
                             token_expired=True)
        shop = _shop(claims.get("shop"), settings.default_shop)
        roles = claims.get("roles") or []
        if isinstance(roles, list) and "admin" in roles:
            return Principal(kind="admin", shop=shop)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > CUSTOMER_ID_MAX:
            raise Unauthenticated("invalid token subject")
        return Principal(kind="customer", shop=shop, customer_id=sub)

    return Principal(kind="public", shop=_shop(headers.get("x-shop"), settings.default_shop))
