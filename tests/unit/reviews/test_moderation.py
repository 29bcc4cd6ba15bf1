"""Automatic moderation: PENDING for an admin, or REJECTED with a reason."""

from __future__ import annotations

import pytest

from services.reviews.moderation import is_repetitive, is_shouting, review


def test_an_ordinary_review_waits_for_an_admin():
    assert review("Nice", "The mug is sturdy and the glaze looks great.").status == "PENDING"
    assert review(None, "Die Tasse ist dick und hält den Tee lange warm.").status == "PENDING"


@pytest.mark.parametrize(("title", "body", "reason"), [
    (None, "This is total bullshit, never again.", "PROFANITY"),
    ("Fuck", "The handle broke after a single week of use.", "PROFANITY"),
    (None, "So eine Scheiße, der Henkel ist abgebrochen.", "PROFANITY"),
    (None, "Der Verkäufer ist ein Arschloch, echt jetzt.", "PROFANITY"),
    (None, "Cheaper at https://rival.example/mugs — go there.", "LINKS"),
    (None, "Cheaper at www.rival-shop.de, buy there instead.", "LINKS"),
    (None, "Visit cheapmugs.com for the same mug, half price.", "LINKS"),
    (None, "ok", "TOO_SHORT"),
    (None, "   good    ", "TOO_SHORT"),
    (None, "THIS IS THE WORST MUG I HAVE EVER OWNED", "SHOUTING"),
    (None, "Great great great great great great great great great", "REPEATED_TEXT"),
    (None, "Nice mug!!!!!!!!!!!!!!!!", "REPEATED_TEXT"),
])
def test_rules_reject_with_a_reason(title, body, reason):
    verdict = review(title, body)
    assert (verdict.status, verdict.reason) == ("REJECTED", reason)


def test_shouting_needs_enough_letters_and_mostly_capitals():
    assert not is_shouting("OK USB")
    assert not is_shouting("The USB-C port and LED work FINE here.")
    assert is_shouting("ABSOLUTELY TERRIBLE PRODUCT")


def test_repetition_is_about_many_repeats_not_a_few():
    assert not is_repetitive("very very good mug, I like it a lot and so does my wife")
    assert is_repetitive("buy buy buy buy buy buy buy buy buy buy")
