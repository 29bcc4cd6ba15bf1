import math
import re

import pytest

from services.points.offers import codes
from shared.errors import BadUserInput

SHAPE = re.compile(r"^FLY(-[0-9A-HJKMNP-TV-Z]{4}){4}$")


def test_a_new_code_is_80_bits_of_a_readable_alphabet_grouped_for_reading():
    made = {codes.new_code() for _ in range(5000)}
    assert len(made) == 5000
    assert all(SHAPE.match(c) for c in made), next(c for c in made if not SHAPE.match(c))
    assert not set("ILOU") & set(codes.ALPHABET) and len(set(codes.ALPHABET)) == 32
    assert codes.entropy_bits() == 80 == codes.SYMBOLS * math.log2(len(codes.ALPHABET))


def test_every_symbol_is_used_about_equally():
    symbols = "".join(codes.new_code()[4:].replace("-", "") for _ in range(4000))  # 64 000 symbols
    counts = [symbols.count(s) for s in codes.ALPHABET]
    assert min(counts) > 1700 and max(counts) < 2300  # 2000 expected each; 6+ sigma apart otherwise


def test_a_typed_code_is_found_whatever_its_case_spaces_and_dashes():
    code = codes.new_code()
    assert codes.key(code) == codes.key(code.lower()) == codes.key(code.replace("-", " ")) == code.replace("-", "")
    assert codes.key(" ab-cd ef ") == "ABCDEF"
    assert codes.key("Friend_20") == "FRIEND_20"  # codes carried over keep their form


@pytest.mark.parametrize("bad", ["", "   ", "--", "x" * 65, "FLY-7K3M;DROP", "fly-äöü", "a\nb", "%", None])
def test_what_cannot_be_a_code_is_bad_input(bad):
    with pytest.raises(BadUserInput):
        codes.key(bad)
