"""OpenTelemetry set-up: one tracer provider per service process.

Spans go to `<TRACE_DIR>/<service>.jsonl` (one JSON span per line, readable without any UI and
used by the tests to check that one request makes one trace), and to an OTLP/HTTP collector such
as Jaeger when OTEL_EXPORTER_OTLP_ENDPOINT is set. Context crosses HTTP through the ASGI
middleware and RabbitMQ through the `traceparent` header (see shared/bus.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager

from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

_configured = False


def setup_tracing(service: str, trace_dir: str, otlp_endpoint: str = "") -> None:
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if trace_dir:
        os.makedirs(trace_dir, exist_ok=True)
        out = open(os.path.join(trace_dir, f"{service}.jsonl"), "a", buffering=1)  # noqa: SIM115
        provider.add_span_processor(
            BatchSpanProcessor(
                ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n"),
                schedule_delay_millis=500,
            )
        )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces"))
        )
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]  # the package ships no annotations
    _configured = True


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def context_from(carrier: Mapping[str, object]) -> context.Context:
    """The trace context of a message, stored event or job, on a clean base: the work it starts
    is traced even when the loop that found it runs quietly (see `quiet`)."""
    return propagate.extract({k: str(v) for k, v in carrier.items() if v is not None}, context=context.Context())


def quiet() -> AbstractContextManager[object]:
    """Background polling (outbox relay, scheduler) would otherwise write a root span per poll."""
    return suppress_instrumentation()


def inject_into(carrier: dict[str, str]) -> dict[str, str]:
    propagate.inject(carrier)
    return carrier
