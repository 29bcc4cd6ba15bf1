"""What a customer may submit as a review: limits, plain text, safe links."""

from __future__ import annotations

import pytest

from services.reviews import submissions
from services.reviews.submissions import draft, plain_text, strip_markup
from shared.errors import BadUserInput


def make(**over):
    args = dict(product_id="p-1", rating=4, title="Good mug", body="Keeps my tea warm for an hour.",
                media_urls=None, order_id=None, hashtags=None, challenge_id=None)
    return draft(**{**args, **over})


def test_a_plain_review_passes_unchanged():
    d = make(media_urls=["https://cdn.example.com/a.jpg", "http://x.example/b.mp4"], hashtags=["#MugLife", "tea"])
    assert (d.rating, d.title, d.body) == (4, "Good mug", "Keeps my tea warm for an hour.")
    assert d.media_urls == ("https://cdn.example.com/a.jpg", "http://x.example/b.mp4")
    assert d.hashtags == ("muglife", "tea")
    assert d.has_media and d.is_ugc


@pytest.mark.parametrize("rating", [0, 6, -1, 100])
def test_ratings_outside_1_to_5_are_refused(rating):
    with pytest.raises(BadUserInput, match="rating"):
        make(rating=rating)


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=",
    "ftp://example.com/a.jpg", "//example.com/a.jpg", "https://", "https://exa mple.com/a.jpg",
    "https://example.com/\x00.jpg", "x" * 10, "https://example.com/" + "a" * 3000,
])
def test_media_must_be_plain_http_links(url):
    with pytest.raises(BadUserInput, match=r"mediaUrls\[0\]"):
        make(media_urls=[url])


def test_too_many_media_or_hashtags_are_refused():
    with pytest.raises(BadUserInput, match="at most 6"):
        make(media_urls=[f"https://cdn.example.com/{i}.jpg" for i in range(7)])
    with pytest.raises(BadUserInput, match="hashtags"):
        make(hashtags=[f"t{i}" for i in range(11)])
    with pytest.raises(BadUserInput, match="hashtags"):
        make(hashtags=["no spaces"])


def test_text_limits():
    assert make(body="x" * submissions.BODY_MAX).body == "x" * submissions.BODY_MAX
    with pytest.raises(BadUserInput, match="body must be at most"):
        make(body="x" * (submissions.BODY_MAX + 1))
    with pytest.raises(BadUserInput, match="title must be at most"):
        make(title="t" * (submissions.TITLE_MAX + 1))
    with pytest.raises(BadUserInput, match="body must not be empty"):
        make(body="   \n ")
    assert make(title="  ").title is None


@pytest.mark.parametrize("text", ["bad\x00byte", "bell\x07", "escape \x1b[31m", "lone \ud800 surrogate",
                                  "private \ue000 use"])
def test_control_and_binary_characters_are_refused(text):
    with pytest.raises(BadUserInput, match="control or binary"):
        make(body=text)


def test_newlines_and_tabs_and_any_language_are_fine():
    assert make(body="Sehr gut!\n\tÜbergröße passt. 很好 👍").body == "Sehr gut!\n\tÜbergröße passt. 很好 👍"


@pytest.mark.parametrize(("raw", "plain"), [
    ("<b>Great</b> mug", "Great mug"),
    ("<script>alert(1)</script>Nice cup", "Nice cup"),
    ('<img src=x onerror="alert(1)">Lovely colour', "Lovely colour"),
    ("<scr<b>ipt>alert(1)</script>fine", "ipt>alert(1)fine"),
    ("3 < 5 and 7 > 2", "3 < 5 and 7 > 2"),
    ("smaller < than I hoped, I <3 it", "smaller < than I hoped, I <3 it"),
    ("Tom &amp; Jerry &lt;script&gt;", "Tom &amp; Jerry &lt;script&gt;"),
])
def test_html_is_stored_as_plain_text(raw, plain):
    assert strip_markup(raw).strip() == plain
    assert make(body=raw).body == plain


def test_markup_only_or_unbalanced_tag_tricks_are_refused():
    with pytest.raises(BadUserInput, match="only markup"):
        make(body="<p></p><br/>")
    with pytest.raises(BadUserInput):
        plain_text("hello <svg/onload=alert(1)", "body", limit=100, required=True)


def test_ids_are_checked():
    with pytest.raises(BadUserInput, match="productId"):
        make(product_id="x" * 500)
    with pytest.raises(BadUserInput, match="orderId"):
        make(order_id="  ")
    assert make(order_id=" o-1 ", challenge_id="ch-1").order_id == "o-1"


def test_ugc_needs_media_and_a_tag_or_challenge():
    assert not make(hashtags=["tea"]).is_ugc
    assert not make(media_urls=["https://cdn.example.com/a.jpg"]).is_ugc
    assert make(media_urls=["https://cdn.example.com/a.jpg"], challenge_id="ch-1").is_ugc


def test_only_photos_and_videos_count_as_media():
    """Issue 19, item 6: an http(s) link to a page is no photo (it would earn the media reward)."""
    submissions.check_media(("https://cdn.example.com/a.JPG", "http://x.example/clip.mp4?w=1",
                             "https://x.example/p/photo.webp#top"), ())
    for url in ("https://shop.example/products/mug", "https://example.com/", "https://x.example/a.jpg.html",
                "https://x.example/file.pdf"):
        with pytest.raises(BadUserInput, match=r"mediaUrls\[0\]"):
            submissions.check_media((url,), ())
    # a configured media host (and its subdomains) serves media under any path
    submissions.check_media(("https://img.cdn.shop.example/abc123", "https://cdn.shop.example/v/9"),
                            ("cdn.shop.example",))
    with pytest.raises(BadUserInput):
        submissions.check_media(("https://evilcdn.shop.example/abc",), ("cdn.shop.example",))
    assert submissions.media_type("https://x.example/a.mov") == "video/quicktime"
