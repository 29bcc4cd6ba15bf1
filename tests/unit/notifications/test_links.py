"""Signed links in messages: unsubscribe, open pixel, click redirect."""

from services.notifications.links import Links

LINKS = Links("0123456789abcdef0123456789abcdef", "https://n.example/")


def test_signed_links_verify_only_for_their_purpose_and_secret():
    url = LINKS.unsubscribe("shop-1", "c-1")
    assert url.startswith("https://n.example/unsubscribe?token=")
    token = url.split("token=")[1]
    assert LINKS.verify(token, "unsub") == {"p": "unsub", "s": "shop-1", "c": "c-1", "ch": "EMAIL"}
    assert LINKS.verify(token, "click") is None
    assert LINKS.verify(token[:-2] + "xx", "unsub") is None
    assert Links("another-secret-0123456789abcdef012", "https://n.example").verify(token, "unsub") is None


def test_html_links_go_through_the_click_redirect_and_get_a_pixel():
    html = '<p><a href="https://shop.example/a?x=1&amp;y=2">A</a> <a href="mailto:x@y.z">mail</a></p>'
    tracked = LINKS.track_html(html, "shop-1", "d-1")
    assert "https://shop.example/a" not in tracked and 'href="mailto:x@y.z"' in tracked
    token = tracked.split("/t/c/")[1].split('"')[0]
    assert LINKS.verify(token, "click")["u"] == "https://shop.example/a?x=1&y=2"
    assert '<img src="https://n.example/t/o/' in tracked
