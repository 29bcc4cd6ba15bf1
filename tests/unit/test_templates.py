import pytest
from jinja2 import UndefinedError

from services.notifications.templates import available, render

SAMPLE = {
    "order_thank_you": {"order_id": "1001", "total": "57.40", "currency": "EUR", "item_count": 2,
                        "first_name": "Anna"},
}


@pytest.mark.parametrize("template, locale", available())
def test_every_template_renders_in_every_locale(template, locale):
    rendered = render(template, locale, SAMPLE[template])
    assert rendered.subject and rendered.text and rendered.html
    assert "Anna" in rendered.text and "1001" in rendered.subject


def test_both_default_locales_ship():
    assert {("order_thank_you", "de"), ("order_thank_you", "en")} <= set(available())
    assert render("order_thank_you", "de", SAMPLE["order_thank_you"]).subject.startswith("Danke")


def test_a_missing_variable_fails_loudly():
    with pytest.raises(UndefinedError):
        render("order_thank_you", "en", {"first_name": "Anna"})


def test_html_part_escapes_values():
    rendered = render("order_thank_you", "en", {**SAMPLE["order_thank_you"], "first_name": "<script>x</script>"})
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
