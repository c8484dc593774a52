"""``storable_text``: what a provider answered, made storable (never refused: the outcome would be lost with it)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alertrouter_shared.events import storable_text, unstorable_reason


@given(st.text(alphabet=st.characters(exclude_categories=[])))  # surrogates included
def test_any_text_becomes_storable_and_storable_text_is_kept_as_it_is(text: str) -> None:
    kept = storable_text(text)
    assert unstorable_reason(kept) is None
    assert len(kept) == len(text)
    if unstorable_reason(text) is None:
        assert kept == text


def test_nul_and_unpaired_surrogates_become_replacement_characters() -> None:
    assert storable_text("a\x00b\ud800c") == "a\ufffdb\ufffdc"
