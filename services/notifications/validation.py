"""Checks of what customers and admins send, with the error a caller sees (pure)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

from jinja2 import TemplateError

from services.notifications import flows, policy, templates, variables
from shared.errors import BadUserInput

PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
URL = re.compile(r"^https?://[^\s\"'<>]{1,490}$")
TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DELAY_NOTE_MAX = 1000


def preferences(raw: dict[str, Any], current_phone: str | None) -> dict[str, Any]:
    """PreferencesInput → contact columns to change."""
    out: dict[str, Any] = {}
    for field, column in (("email", "email_opt"), ("sms", "sms_opt"), ("whatsapp", "whatsapp_opt")):
        if raw.get(field) is not None:
            out[column] = raw[field]
    if raw.get("phone") is not None:
        phone = raw["phone"].strip()
        if phone and not PHONE.match(phone):
            raise BadUserInput("phone must be in E.164 form, e.g. +4915112345678", field="phone")
        out["phone"] = phone or None
    if raw.get("locale") is not None:
        if raw["locale"] not in templates.LOCALES:
            raise BadUserInput(f"locale must be one of {', '.join(templates.LOCALES)}", field="locale")
        out["pref_locale"] = raw["locale"]
    if raw.get("timezone") is not None:
        if len(raw["timezone"]) > 64 or not policy.valid_timezone(raw["timezone"]):
            raise BadUserInput("timezone must be an IANA name such as Europe/Berlin", field="timezone")
        out["pref_timezone"] = raw["timezone"]
    start, end = raw.get("quiet_hours_start"), raw.get("quiet_hours_end")
    if start is not None or end is not None:
        if start == "" and end == "":
            out["quiet_start"] = out["quiet_end"] = None
        else:
            try:
                out["quiet_start"], out["quiet_end"] = policy.parse_hhmm(start or ""), policy.parse_hhmm(end or "")
            except ValueError as exc:
                raise BadUserInput("quietHoursStart and quietHoursEnd are both HH:MM (or both empty to clear)",
                                   field="quietHoursStart") from exc
    phone = out.get("phone", current_phone)
    if (out.get("sms_opt") or out.get("whatsapp_opt")) and not phone:
        raise BadUserInput("SMS and WhatsApp need a phone number", field="phone")
    return out


def flow_change(flow: flows.Flow, enabled: bool | None, steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A shop's change to a flow, checked: known steps, sane delays, templates that render in every
    locale with the variables this flow provides."""
    changes: dict[str, dict[str, Any]] = {}
    for change in steps:
        step = flow.step(change["key"])
        if step is None:
            raise BadUserInput(f"flow {flow.key} has no step {change['key']!r}", field="steps")
        entry: dict[str, Any] = {}
        if change.get("delay_seconds") is not None:
            seconds = change["delay_seconds"]
            if seconds < 0 or timedelta(seconds=seconds) > flows.MAX_DELAY:
                raise BadUserInput(f"delaySeconds must be between 0 and {int(flows.MAX_DELAY.total_seconds())}",
                                   field="delaySeconds")
            entry["delay_seconds"] = seconds
        if change.get("template") is not None:
            name = change["template"]
            if not TEMPLATE_NAME.match(name):
                raise BadUserInput("unknown template", field="template")
            renders(flow, replace(step, template=name))
            entry["template"] = name
        if change.get("channels") is not None:
            chosen = [c.value if hasattr(c, "value") else c for c in change["channels"]]
            if not chosen or len(set(chosen)) != len(chosen) or not set(chosen) <= set(flows.CHANNELS):
                raise BadUserInput("channels: one or more distinct channels, in order of preference", field="channels")
            entry["channels"] = chosen
        changes[step.key] = entry
    return changes


def renders(flow: flows.Flow, step: flows.Step) -> None:
    """The template renders in every locale with what the flow provides; a step that carries an offer
    needs a template that shows its code (the offer is issued for the message, and must be in it)."""
    stored = variables.stored_sample(flow, step, variables.links_for(None, None))
    for locale in templates.LOCALES:
        values = variables.for_template(stored, "Anna", locale, None)
        try:
            rendered = templates.render(step.template, locale, values)
        except TemplateError as exc:
            raise BadUserInput(f"template {step.template!r} cannot be used in {flow.key}/{step.key} ({locale}): "
                               f"{exc.message}", field="template") from exc
        if step.offer and not all(values["offer_code"] in part for part in (rendered.text, rendered.html)):
            raise BadUserInput(f"template {step.template!r} does not show the offer {flow.key}/{step.key} carries",
                               field="template")


def shop_settings(raw: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in raw.items() if v is not None}
    for field in ("storefront_url", "tracking_url", "sms_provider_url", "message_webhook_url"):
        if field in out and not URL.match(out[field]):
            raise BadUserInput(f"{field} must be an http(s) URL", field=field)
    if "tracking_url" in out and "{order_id}" not in out["tracking_url"]:
        raise BadUserInput("trackingUrl must contain {order_id}", field="trackingUrl")
    for field in ("daily_cap", "weekly_cap"):
        if field in out and not 0 <= out[field] <= 100:
            raise BadUserInput(f"{field} must be between 0 and 100", field=field)
    if "retry_seconds" in out:
        delays = out["retry_seconds"]
        if len(delays) > 10 or any(not 1 <= d <= 86_400 for d in delays):
            raise BadUserInput("retrySeconds: up to 10 delays of 1–86400 seconds", field="retrySeconds")
    for field in ("sms_account_sid", "sms_auth_token", "sms_from", "whatsapp_from", "webhook_secret"):
        if field in out and not 1 <= len(out[field]) <= 200:
            raise BadUserInput(f"{field} must be 1–200 characters", field=field)
    for field in ("sms_from", "whatsapp_from"):
        if field in out and not PHONE.match(out[field]):
            raise BadUserInput(f"{field} must be in E.164 form", field=field)
    return out


def delay_note(message: str | None) -> str:
    """The admin's words for a late order (may be empty)."""
    note = (message or "").strip()
    if len(note) > DELAY_NOTE_MAX:
        raise BadUserInput(f"message must be at most {DELAY_NOTE_MAX} characters", field="message")
    return note


def webhook_endpoint(url: str, secret: str | None, event_types: list[str], known: list[str], new: bool) -> None:
    if not URL.match(url):
        raise BadUserInput("url must be an http(s) URL", field="url")
    if secret is not None and not 16 <= len(secret) <= 200:
        raise BadUserInput("secret must be 16–200 characters", field="secret")
    if new and secret is None:
        raise BadUserInput("a new endpoint needs a secret", field="secret")
    unknown = sorted(set(event_types) - set(known))
    if not event_types or len(event_types) > len(known) or unknown:
        raise BadUserInput(f"eventTypes must name catalog events; unknown: {', '.join(unknown)[:200]}",
                           field="eventTypes")
