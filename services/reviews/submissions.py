"""What a customer may submit as a review: limits, safe text, safe media links.

Text is stored as plain text: HTML tags are removed (script/style content with them), character
references are kept verbatim (so `&lt;script&gt;` stays harmless text), and text that would still
read as a tag afterwards is refused. Control and binary characters are refused, not cleaned.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

from shared.errors import BadUserInput
from shared.ids import external_id

TITLE_MAX = 120
BODY_MAX = 5000
REPLY_MAX = 2000
MEDIA_MAX = 6
URL_MAX = 2048
HASHTAGS_MAX = 10
HASHTAG = re.compile(r"^#?(\w{1,50})$")
TAG_LIKE = re.compile(r"<[A-Za-z/!?]")  # what a browser would open a tag on
ALLOWED_CONTROLS = {"\n", "\r", "\t"}


@dataclass(frozen=True)
class Draft:
    product_id: str
    rating: int
    title: str | None
    body: str
    media_urls: tuple[str, ...]
    order_id: str | None
    hashtags: tuple[str, ...]
    challenge_id: str | None

    @property
    def has_media(self) -> bool:
        return bool(self.media_urls)

    @property
    def is_ugc(self) -> bool:
        """A photo/video submission tagged for a campaign: challenges count these."""
        return self.has_media and (bool(self.hashtags) or self.challenge_id is not None)


class _TextOnly(HTMLParser):
    SKIP = {"script", "style"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)

    def handle_entityref(self, name: str) -> None:
        self.handle_data(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.handle_data(f"&#{name};")


def strip_markup(text: str) -> str:
    for _ in range(3):  # nested tricks like <scr<b>ipt> need another pass
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        stripped = "".join(parser.parts)
        if stripped == text:
            break
        text = stripped
    return text


def plain_text(value: str | None, field: str, *, limit: int, required: bool) -> str | None:
    if value is None or not value.strip():
        if required:
            raise BadUserInput(f"{field} must not be empty", field=field)
        return None
    for ch in value:
        category = unicodedata.category(ch)
        if (category == "Cc" and ch not in ALLOWED_CONTROLS) or category in ("Cs", "Co", "Cn"):
            raise BadUserInput(f"{field} contains control or binary characters", field=field)
    if len(value) > limit:  # checked before stripping too, so huge input costs no parsing
        raise BadUserInput(f"{field} must be at most {limit} characters", field=field)
    text = strip_markup(value).strip()
    if TAG_LIKE.search(text):
        raise BadUserInput(f"{field} must be plain text, not markup", field=field)
    if not text:
        if required:
            raise BadUserInput(f"{field} must contain text, not only markup", field=field)
        return None
    return text


def media_url(value: str, index: int) -> str:
    field = f"mediaUrls[{index}]"
    url = value.strip()
    if not url or len(url) > URL_MAX or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        raise BadUserInput(f"{field} must be a URL of at most {URL_MAX} characters without spaces", field=field)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise BadUserInput(f"{field} is not a valid URL", field=field) from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadUserInput(f"{field} must be an http(s) URL", field=field)
    return url


# What counts as a photo or video: a URL naming an image or video file (its content type by its
# extension), or any URL on one of the shop's media hosts (configureReviews: a CDN whose paths carry
# no extension). Anything else is a link, not media: it would earn the photo/video reward (100
# points instead of 50) for a link to any page.
IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
               "webp": "image/webp", "avif": "image/avif", "heic": "image/heic", "heif": "image/heif"}
VIDEO_TYPES = {"mp4": "video/mp4", "m4v": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}


def media_type(url: str) -> str | None:
    """The image/* or video/* content type a URL's file extension names, else None."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return IMAGE_TYPES.get(ext) or VIDEO_TYPES.get(ext)


def check_media(urls: tuple[str, ...], media_hosts: tuple[str, ...]) -> None:
    """Every URL (already an http(s) URL, media_url) is a photo or video: an image or video file, or
    on one of the shop's media hosts (or a subdomain of one)."""
    for i, url in enumerate(urls):
        host = (urlsplit(url).hostname or "").lower()
        on_host = any(host == h or host.endswith("." + h) for h in media_hosts)
        if not on_host and media_type(url) is None:
            raise BadUserInput(
                f"mediaUrls[{i}] must be a photo or video: an image or video file (.jpg, .png, .webp, .mp4, "
                ".mov, …) or a URL on one of the shop's media hosts", field=f"mediaUrls[{i}]")


def hashtag(value: str, index: int) -> str:
    match = HASHTAG.match(value.strip())
    if not match:
        raise BadUserInput(f"hashtags[{index}] must be 1–50 letters, digits or _", field="hashtags")
    return match.group(1).lower()


def unique_in_order(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def draft(*, product_id: str, rating: int, title: str | None, body: str, media_urls: list[str] | None,
          order_id: str | None, hashtags: list[str] | None, challenge_id: str | None) -> Draft:
    if not 1 <= rating <= 5:
        raise BadUserInput("rating must be between 1 and 5", field="rating")
    media = media_urls or []
    if len(media) > MEDIA_MAX:
        raise BadUserInput(f"at most {MEDIA_MAX} photos or videos", field="mediaUrls")
    tags = hashtags or []
    if len(tags) > HASHTAGS_MAX:
        raise BadUserInput(f"at most {HASHTAGS_MAX} hashtags", field="hashtags")
    return Draft(
        product_id=external_id(product_id, "productId"),
        rating=rating,
        title=plain_text(title, "title", limit=TITLE_MAX, required=False),
        body=plain_text(body, "body", limit=BODY_MAX, required=True) or "",
        media_urls=unique_in_order([media_url(u, i) for i, u in enumerate(media)]),
        order_id=external_id(order_id, "orderId") if order_id is not None else None,
        hashtags=unique_in_order([hashtag(t, i) for i, t in enumerate(tags)]),
        challenge_id=external_id(challenge_id, "challengeId") if challenge_id is not None else None,
    )


def reply(body: str) -> str:
    return plain_text(body, "body", limit=REPLY_MAX, required=True) or ""
