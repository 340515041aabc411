"""Untrusted text made fit for the wire protocol."""

from __future__ import annotations

from hostwatch.agent.bounds import clean, fit


def test_fit_escapes_nul_and_undecodable_bytes() -> None:
    raw = b"caf\xe9 a\x00b \xff".decode("utf-8", "surrogateescape")
    assert raw == "caf\udce9 a\x00b \udcff"

    assert fit(raw, 100) == ("caf\\xe9 a\\x00b \\xff", False)
    assert clean(raw, 100) == "caf\\xe9 a\\x00b \\xff"


def test_fit_escapes_a_surrogate_that_is_not_an_escaped_byte() -> None:
    assert clean("x\ud800", 100) == "x\\ud800"


def test_fit_leaves_valid_text_alone() -> None:
    assert fit("café 日本 ok", 100) == ("café 日本 ok", False)
    assert fit(None, 10) == (None, False)


def test_fit_cuts_to_the_limit_without_splitting_an_escape() -> None:
    assert fit("abcdef", 4) == ("abcd", True)
    # "ab\xe9" needs 6 characters: the escape does not fit whole in 4, so it is dropped.
    assert fit("ab\udce9cd", 4) == ("ab", True)
    assert fit("ab\udce9cd", 6) == ("ab\\xe9", True)
    assert fit("ab\udce9", 6) == ("ab\\xe9", False)
    assert fit("ab\udce9cd", 7) == ("ab\\xe9c", True)
