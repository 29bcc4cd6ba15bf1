"""Customer profiles: validation and normalisation."""

from datetime import date

import pytest

from services.customers.profiles import normalise_email, normalise_phone, profile
from shared.errors import BadUserInput


def test_profile_is_normalised():
    p = profile(id=" c-1 ", email=" Anna.Schmidt@Example.COM ", first_name=" Anna ", locale="de-DE",
                timezone="Europe/Berlin", phone="0049 151 1234 5678", birthday=date(1990, 5, 17))
    assert (p.id, p.email, p.first_name, p.locale, p.phone) == (
        "c-1", "anna.schmidt@example.com", "Anna", "de", "+4915112345678")
    assert p.accepts_email is False


@pytest.mark.parametrize("kwargs", [
    {"email": "not-an-email"},
    {"email": "a@b"},
    {"email": "x" * 250 + "@example.com"},
    {"locale": "fr"},
    {"timezone": "Mars/Olympus"},
    {"phone": "12345"},
    {"birthday": date(2999, 1, 1)},
    {"first_name": "x" * 101},
    {"first_name": "bad\x00name"},
    {"id": ""},
])
def test_bad_profiles_are_refused(kwargs):
    with pytest.raises(BadUserInput):
        profile(**{"id": "c-1", "email": "a@example.com", **kwargs})


def test_email_and_phone_helpers():
    assert normalise_email("A@B.de") == "a@b.de"
    assert normalise_phone(None) is None
    assert normalise_phone("+1 (415) 555-0100") == "+14155550100"
