"""One settings object per service, read from the environment with local-dev defaults.

The defaults match `.env.example`, so a test or a script that imports a service without a `.env`
still talks to the loopback stack that `make up` starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

SERVICES = ("customers", "points", "referrals", "reviews", "notifications")
# Development defaults; production refuses to start with them (shared/edge.py).
DEV_JWT_SECRET = "dev-only-change-me-0123456789abcdef0123456789abcdef"
DEV_GATEWAY_SECRET = "dev-only-gateway-secret-0123456789abcdef"  # the gateway's default too (gateway/settings.ts)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


@dataclass(frozen=True)
class ApiKey:
    key: str
    role: str  # "ingest" | "admin"
    shop: str


def _parse_api_keys(raw: str, admin_key: str, ingest_key: str, default_shop: str) -> dict[str, ApiKey]:
    keys: dict[str, ApiKey] = {}
    if admin_key:
        keys[admin_key] = ApiKey(admin_key, "admin", default_shop)
    if ingest_key:
        keys[ingest_key] = ApiKey(ingest_key, "ingest", default_shop)
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, role, shop = item.split(":", 2)
        if role not in ("admin", "ingest"):
            raise ValueError(f"API_KEYS: unknown role {role!r} for a key of shop {shop!r}")
        keys[key] = ApiKey(key, role, shop)
    return keys


@dataclass(frozen=True)
class Settings:
    service: str
    default_shop: str
    jwt_secret: str
    api_keys: dict[str, ApiKey] = field(repr=False)
    pg_host: str = "127.0.0.1"
    pg_port: int = 55432
    pg_user: str = "flywheel"
    pg_password: str = field(default="flywheel", repr=False)
    amqp_url: str = field(default="amqp://flywheel:flywheel@127.0.0.1:5682/flywheel", repr=False)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    mail_from: str = "hello@flywheel.test"
    referral_base_url: str = "http://localhost:3000/r/"
    trace_dir: str = ".run/traces"
    otlp_endpoint: str = ""
    trace_sql: bool = True  # a span per SQL statement (TRACE_SQL=0: off)
    # FLYWHEEL_ENV=production: subgraphs answer the gateway only, weak credentials refuse to start
    production: bool = False
    gateway_secret: str = field(default=DEV_GATEWAY_SECRET, repr=False)
    max_request_bytes: int = 2_000_000
    # <SERVICE>_PUBLIC_PORT: the service's own routes (webhooks, links in messages) on a listener of
    # their own, on PUBLIC_HOST
    public_port: int | None = None
    public_host: str = "127.0.0.1"
    # The consumer's batches (shared/bus.py): at most this many events per transaction, and at most
    # this long a wait for more once the first one arrived
    batch_size: int = 100
    batch_wait_ms: float = 10.0

    @property
    def database(self) -> str:
        return f"flywheel_{self.service}"

    def dsn(self, database: str | None = None) -> str:
        return (
            f"postgresql://{self.pg_user}:{self.pg_password}@{self.pg_host}:{self.pg_port}/"
            f"{database or self.database}"
        )

    @classmethod
    def from_env(cls, service: str) -> Settings:
        default_shop = _env("DEFAULT_SHOP", "default")
        amqp_user = _env("AMQP_USER", "flywheel")
        amqp_password = _env("AMQP_PASSWORD", "flywheel")
        amqp_host = _env("AMQP_HOST", "127.0.0.1")
        amqp_port = _env("AMQP_PORT", "5682")
        amqp_vhost = _env("AMQP_VHOST", "flywheel")
        production = _env("FLYWHEEL_ENV", "development") == "production"
        public_port = _env(f"{service.upper()}_PUBLIC_PORT", "")
        return cls(
            service=service,
            default_shop=default_shop,
            jwt_secret=_env("JWT_SECRET", DEV_JWT_SECRET),
            api_keys=_parse_api_keys(
                _env("API_KEYS", ""),
                _env("ADMIN_API_KEY", "dev-admin-key"),
                _env("INGEST_API_KEY", "dev-ingest-key"),
                default_shop,
            ),
            pg_host=_env("PG_HOST", "127.0.0.1"),
            pg_port=int(_env("PG_PORT", "55432")),
            pg_user=_env("PG_USER", "flywheel"),
            pg_password=_env("PG_PASSWORD", "flywheel"),
            amqp_url=_env(
                "AMQP_URL", f"amqp://{amqp_user}:{amqp_password}@{amqp_host}:{amqp_port}/{amqp_vhost}"
            ),
            smtp_host=_env("SMTP_HOST", "127.0.0.1"),
            smtp_port=int(_env("SMTP_PORT", "1025")),
            mail_from=_env("MAIL_FROM", "hello@flywheel.test"),
            referral_base_url=_env("REFERRAL_BASE_URL", "http://localhost:3000/r/"),
            trace_dir=_env("TRACE_DIR", ".run/traces"),
            otlp_endpoint=_env("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
            trace_sql=_env("TRACE_SQL", "1") != "0",
            production=production,
            gateway_secret=_env("GATEWAY_SECRET", "" if production else DEV_GATEWAY_SECRET),
            max_request_bytes=int(_env("MAX_REQUEST_BYTES", "2000000")),
            public_port=int(public_port) if public_port else None,
            public_host=_env("PUBLIC_HOST", "127.0.0.1"),
            batch_size=max(1, int(_env("CONSUMER_BATCH_SIZE", "100"))),
            batch_wait_ms=max(0.0, float(_env("CONSUMER_BATCH_WAIT_MS", "10"))),
        )
