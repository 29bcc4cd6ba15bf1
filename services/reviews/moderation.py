"""Automatic moderation: a submitted review waits for an admin (PENDING) unless a rule rejects it.

Rules never publish on their own: a merchant sees every review before it goes live and earns a
reward. The word lists are deliberately small (obvious insults, de + en); mild words and words that
are harmless in the other language (German "dick" = thick) are left out on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROFANITY = frozenset({
    # en
    "fuck", "fucking", "shit", "bullshit", "asshole", "bitch", "bastard", "cunt", "motherfucker", "wanker",
    # de
    "scheiße", "scheisse", "scheiß", "scheiss", "arschloch", "fotze", "wichser", "hurensohn", "kacke",
    "fick", "ficken", "vollidiot",
})
MIN_BODY_CHARS = 10
LINK = re.compile(r"(https?://|www\.|\b[\w-]+\.(com|de|net|org|io|ru|cn|info|biz|shop)\b)", re.IGNORECASE)
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
SAME_CHAR_RUN = re.compile(r"(.)\1{7,}", re.DOTALL)  # "!!!!!!!!", "aaaaaaaa"


@dataclass(frozen=True)
class Verdict:
    status: str  # PENDING | REJECTED
    reason: str | None = None


def _words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def is_shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7


def is_repetitive(text: str) -> bool:
    if SAME_CHAR_RUN.search(text):
        return True
    words = _words(text)
    return len(words) >= 8 and len(set(words)) / len(words) < 0.35


def review(title: str | None, body: str) -> Verdict:
    text = f"{title or ''}\n{body}"
    if any(word in PROFANITY for word in _words(text)):
        return Verdict("REJECTED", "PROFANITY")
    if LINK.search(text):
        return Verdict("REJECTED", "LINKS")
    if len(body.strip()) < MIN_BODY_CHARS:
        return Verdict("REJECTED", "TOO_SHORT")
    if is_shouting(text):
        return Verdict("REJECTED", "SHOUTING")
    if is_repetitive(text):
        return Verdict("REJECTED", "REPEATED_TEXT")
    return Verdict("PENDING")
