"""OpenTelemetry set-up: one tracer provider per service process.

Spans go to `<TRACE_DIR>/<service>.jsonl` (one JSON span per line, readable without any UI and
used by the tests to check that one request makes one trace), and to an OTLP/HTTP collector such
as Jaeger when OTEL_EXPORTER_OTLP_ENDPOINT is set. Context crosses HTTP through the ASGI
middleware and RabbitMQ through the `traceparent` header (see shared/bus.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.util import ns_to_iso_str

_configured = False


def setup_tracing(service: str, trace_dir: str, otlp_endpoint: str = "", *, sql: bool = True) -> None:
    """`sql`: a span per SQL statement too (TRACE_SQL, on by default). Off, a consumer's trace keeps
    its per-event spans and loses the statements under them: a quarter of a busy consumer's CPU went
    into those spans (README, Benchmarks)."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if trace_dir:
        os.makedirs(trace_dir, exist_ok=True)
        # Block-buffered: the exporter flushes after each batch of spans (one write, not one per span).
        # Small batches, often: the exporter's thread holds the GIL while it writes a batch, and 512
        # spans at a time (the default) held up the service's event loop long enough to double the
        # p99 of redeemReward at 50/s (README, Benchmarks); 32 every 100 ms cost the same CPU in all.
        out = open(os.path.join(trace_dir, f"{service}.jsonl"), "a")  # noqa: SIM115
        provider.add_span_processor(
            BatchSpanProcessor(ConsoleSpanExporter(out=out, formatter=SpanLine()), schedule_delay_millis=100,
                               max_export_batch_size=32)
        )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces"))
        )
    trace.set_tracer_provider(provider)
    if sql:
        AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]  # the package ships no annotations
    _configured = True


class SpanLine:
    """A span as one JSON line, as `ReadableSpan.to_json(indent=None)` writes it, but with the
    process's resource serialised once instead of for every span (to_json dumps and re-parses it each
    time: a third of a busy consumer's CPU went into writing its trace file)."""

    def __init__(self) -> None:
        self._resources: dict[int, Any] = {}

    @staticmethod
    def _context(ctx: trace.SpanContext) -> dict[str, str]:
        return {"trace_id": f"0x{ctx.trace_id:032x}", "span_id": f"0x{ctx.span_id:016x}",
                "trace_state": repr(ctx.trace_state)}

    def __call__(self, span: ReadableSpan) -> str:
        resource = self._resources.get(id(span.resource))
        if resource is None:
            resource = self._resources[id(span.resource)] = json.loads(span.resource.to_json())
        status: dict[str, str] = {"status_code": span.status.status_code.name}
        if span.status.description:
            status["description"] = span.status.description
        return json.dumps({
            "name": span.name,
            "context": self._context(span.context) if span.context else None,
            "kind": str(span.kind),
            "parent_id": f"0x{span.parent.span_id:016x}" if span.parent is not None else None,
            "start_time": ns_to_iso_str(span.start_time) if span.start_time else None,
            "end_time": ns_to_iso_str(span.end_time) if span.end_time else None,
            "status": status,
            "attributes": dict(span.attributes) if span.attributes is not None else None,
            "events": [{"name": e.name, "timestamp": ns_to_iso_str(e.timestamp),
                        "attributes": dict(e.attributes) if e.attributes is not None else None}
                       for e in span.events],
            "links": [{"context": self._context(link.context),
                       "attributes": dict(link.attributes) if link.attributes is not None else None}
                      for link in span.links],
            "resource": resource,
        }) + "\n"


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
