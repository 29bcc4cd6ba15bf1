"""Message templates: every flow step renders in every locale with the values its flow provides."""

import pytest
from jinja2 import UndefinedError

from services.notifications import flows, templates, variables
from services.notifications.templates import available, render

SAMPLE = {"order_id": "1001", "total": "57.40", "currency": "EUR", "item_count": 2, "first_name": "Anna",
          "shop_url": "http://shop.test"}


def _flow_steps():
    return [(f.key, s.key) for f in flows.DEFAULT_FLOWS for s in f.steps]


@pytest.mark.parametrize("locale", templates.LOCALES)
@pytest.mark.parametrize("flow_key, step_key", _flow_steps())
def test_every_flow_step_renders_in_every_locale_with_the_variables_its_flow_provides(flow_key, step_key, locale):
    flow = flows.BY_KEY[flow_key]
    step = flow.step(step_key)
    stored = variables.stored_sample(flow, step, variables.links_for("http://shop.test", None))
    rendered = render(step.template, locale, variables.for_template(stored, "Anna", locale, None))
    assert rendered.subject and rendered.text and rendered.html
    greeting = {"en": "Hi Anna", "de": "Hallo Anna"}[locale]
    assert greeting in rendered.text and greeting in rendered.html
    assert "http://shop.test" in rendered.text or "tracking" in rendered.text


def test_every_template_on_disk_is_used_by_a_flow_in_both_locales():
    used = {s.template for f in flows.DEFAULT_FLOWS for s in f.steps}
    on_disk = set(available())
    assert {(t, loc) for t in used for loc in templates.LOCALES} <= on_disk
    assert {t for t, _ in on_disk} == used


def test_templates_carry_the_real_values():
    tier = render("tier_near", "en", {**variables.for_message("tier.near", variables.SAMPLES["tier.near"],
                                                              variables.links_for(None, None), {}),
                                      "first_name": "Anna"})
    assert "20.00 EUR" in tier.subject and "Gold" in tier.subject
    shipped = render("order_shipped", "de", {**variables.for_message(
        "order.shipped", variables.SAMPLES["order.shipped"],
        variables.links_for("https://shop.example", "https://track.example/{order_id}"), {}), "first_name": "Jonas"})
    assert "https://track.example/1001" in shipped.text and shipped.subject.startswith("Deine Bestellung 1001")


def test_both_default_locales_ship():
    assert {("order_thank_you", "de"), ("order_thank_you", "en")} <= set(available())
    assert render("order_thank_you", "de", SAMPLE).subject.startswith("Danke")


def test_a_missing_variable_fails_loudly():
    with pytest.raises(UndefinedError):
        render("order_thank_you", "en", {"first_name": "Anna"})


def test_html_part_escapes_values():
    rendered = render("order_thank_you", "en", {**SAMPLE, "first_name": "<script>x</script>"})
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html


# ---- messages that carry an offer ------------------------------------------------------------------

OFFERS = {
    "PERCENTAGE": {"value": "10.00", "en": "10 % off your next order",
                   "de": "10 % Rabatt auf deine nächste Bestellung"},
    "FREE_SHIPPING": {"value": None, "en": "free shipping on your next order",
                      "de": "kostenloser Versand für deine nächste Bestellung"},
    "FIXED_AMOUNT": {"value": "10.00", "en": "€10.00 off your next order",
                     "de": "10,00 € Rabatt auf deine nächste Bestellung"},
    "STORE_CREDIT": {"value": "10.00", "en": "€10.00 in store credit", "de": "10,00 € Guthaben"},
    "FREE_PRODUCT": {"value": None, "en": "a free product with your next order",
                     "de": "ein Gratisprodukt zu deiner nächsten Bestellung"},
}
EXPIRES = "2026-12-04T10:00:00+00:00"  # issued 2026-11-20 10:00 UTC, valid 14 days
LAST_DAY = {"en": "3 December 2026", "de": "03.12.2026"}
OFFER_STEPS = [("at_risk", "at_risk"), ("winback", "discount_10"), ("winback", "discount_20_survey"),
               ("segment_at_risk", "at_risk"), ("birthday", "greeting"), ("referral_welcome", "welcome")]


def _offer(kind: str, **over) -> dict:
    return {"offer_id": "of-9", "code": "FLY-7K3M-9QXD-2HRB-T4VW", "kind": kind, "value": OFFERS[kind]["value"],
            "currency": "EUR", "min_order": None, "expires_at": EXPIRES, **over}


@pytest.mark.parametrize("locale", templates.LOCALES)
@pytest.mark.parametrize("kind", list(OFFERS))
@pytest.mark.parametrize("flow_key, step_key", OFFER_STEPS)
def test_offer_messages_show_the_issued_code_its_value_and_last_day_in_de_and_en(flow_key, step_key, kind, locale):
    """Whatever kind the merchant gives a source's offer in the points program, the mail shows it."""
    flow = flows.BY_KEY[flow_key]
    step = flow.step(step_key)
    stored = {**variables.stored_sample(flow, step, variables.links_for("http://shop.test", None)),
              "offer": _offer(kind)}
    rendered = render(step.template, locale, variables.for_template(stored, "Anna", locale, "Europe/Berlin"))
    for part in (rendered.text, rendered.html):
        assert "FLY-7K3M-9QXD-2HRB-T4VW" in part
        assert OFFERS[kind][locale] in part
        assert LAST_DAY[locale] in part
        assert "?offer=" not in part and "{{" not in part
    assert "Anna" in rendered.text


def test_the_win_back_subject_names_the_offer():
    stored = {**variables.stored_sample(flows.BY_KEY["winback"], flows.BY_KEY["winback"].step("discount_10"),
                                        variables.links_for(None, None)), "offer": _offer("PERCENTAGE")}
    assert render("winback_discount", "en", variables.for_template(stored, "Anna", "en", None)).subject == \
        "Come back: 10 % off your next order"
    assert render("winback_survey", "de", variables.for_template(
        {**stored, "offer": _offer("PERCENTAGE", value="20.00")}, "Anna", "de", None)).subject == \
        "Unser bestes Angebot: 20 % Rabatt auf deine nächste Bestellung — und eine Frage"


def test_the_birthday_gift_of_a_tier_reads_as_a_gift_and_the_friends_minimum_order_is_shown():
    stored = {"shop_url": "http://shop.test", "year": 2026, "offer": _offer("STORE_CREDIT")}
    gift = render("birthday", "de", variables.for_template(stored, "Jonas", "de", None))
    assert "Dein Geburtstagsgeschenk: 10,00 € Guthaben für deine nächste Bestellung." in gift.text
    assert "Your birthday gift: €10.00 in store credit" in render(
        "birthday", "en", variables.for_template(stored, "Jonas", "en", None)).text
    friend = {"shop_url": "http://shop.test",
              "offer": _offer("PERCENTAGE", value="20.00", min_order="12.00", expires_at="2026-12-20T10:00:00+00:00")}
    de = render("referral_welcome", "de", variables.for_template(friend, "Ben", "de", None))
    assert de.subject == "Willkommen! Dein Geschenk: 20 % Rabatt auf deine nächste Bestellung"
    assert "Gültig bis 19.12.2026 ab einem Bestellwert von 12,00 €." in de.text
    en = render("referral_welcome", "en", variables.for_template(friend, "Ben", "en", None))
    assert "Valid until 19 December 2026 on orders from €12.00." in en.text


def test_values_and_days_in_the_customers_words():
    assert variables.money_words("1234.5", "EUR", "de") == "1.234,50 €"
    assert variables.money_words("1234.5", "EUR", "en") == "€1,234.50"
    assert variables.money_words("10", "CHF", "en") == "CHF 10.00"
    assert variables.money_words("500", "JPY", "de") == "500 JPY"
    assert variables.percent_words("12.50", "de") == "12,5 %" and variables.percent_words("10.00", "en") == "10 %"
    # The last whole day in the customer's time zone: 00:30 in Berlin on 5 December is still the 4th's night.
    words = variables.offer_words(_offer("PERCENTAGE", expires_at="2026-12-04T23:30:00+00:00"), "en", "Europe/Berlin")
    assert words["offer_expires_on"] == "4 December 2026"
    assert variables.offer_words(_offer("PERCENTAGE", expires_at="2026-12-04T23:30:00+00:00"), "en",
                                 "America/New_York")["offer_expires_on"] == "3 December 2026"
    assert variables.offer_words(_offer("FREE_SHIPPING"), "fr", None)["offer_value"] == "free shipping"
