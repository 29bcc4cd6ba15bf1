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
    values = {**variables.for_message(flow.trigger, variables.SAMPLES[flow.trigger],
                                      variables.links_for("http://shop.test", None), step.variables),
              "first_name": "Anna"}
    rendered = render(step.template, locale, values)
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
    winback = flows.BY_KEY["winback"].step("discount_10")
    text = render(winback.template, "en", {**variables.for_message("order.placed", variables.SAMPLES["order.placed"],
                                                                   variables.links_for(None, None), winback.variables),
                                           "first_name": "Anna"}).subject
    assert text.startswith("10 % off")


def test_both_default_locales_ship():
    assert {("order_thank_you", "de"), ("order_thank_you", "en")} <= set(available())
    assert render("order_thank_you", "de", SAMPLE).subject.startswith("Danke")


def test_a_missing_variable_fails_loudly():
    with pytest.raises(UndefinedError):
        render("order_thank_you", "en", {"first_name": "Anna"})


def test_html_part_escapes_values():
    rendered = render("order_thank_you", "en", {**SAMPLE, "first_name": "<script>x</script>"})
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
