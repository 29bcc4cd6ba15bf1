from datetime import UTC, datetime

import pytest

from shared.errors import BadUserInput
from shared.pagination import connection, decode_cursor, encode_cursor, page_size


def test_cursor_round_trip_and_bad_cursors():
    now = datetime(2026, 11, 23, tzinfo=UTC)
    assert decode_cursor(encode_cursor(now.isoformat(), 7), datetime.fromisoformat, int) == [now, 7]
    for bad in ("???", encode_cursor("x"), encode_cursor("not a date", 1)):
        with pytest.raises(BadUserInput):
            decode_cursor(bad, datetime.fromisoformat, int)


def test_page_size_bounds():
    assert page_size(None) == 20
    for bad in (-1, 101):
        with pytest.raises(BadUserInput):
            page_size(bad)


def test_connection_says_when_there_is_more():
    page = connection([1, 2, 3], 2, node=lambda r: r, key=lambda r: (r,), after=None)
    assert [e.node for e in page.edges] == [1, 2] and page.page_info.has_next_page
    assert decode_cursor(page.page_info.end_cursor, int) == [2]

