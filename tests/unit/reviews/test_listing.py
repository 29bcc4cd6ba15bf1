"""The product page's sort orders as keyset-pageable keys."""

from __future__ import annotations

from datetime import UTC, datetime

from services.reviews import listing


def test_sort_keys_are_descending_tuples():
    created = datetime(2026, 11, 20, tzinfo=UTC)
    row = {"rating": 2, "helpful_count": 7, "media_urls": ["https://x.example/a.jpg"], "created_at": created,
           "id": "00000000-0000-0000-0000-000000000001"}
    assert listing.key("NEWEST", False, row) == (0, 0, created.isoformat(), row["id"])
    assert listing.key("HIGHEST", True, row)[:2] == (1, 2)
    assert listing.key("LOWEST", False, row)[:2] == (0, -2)
    assert listing.key("MOST_HELPFUL", False, {**row, "media_urls": []})[:2] == (0, 7)
