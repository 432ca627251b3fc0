"""Personal details typed into feedback are masked wherever a quote is shown; ordinary numbers stay."""

import json
from pathlib import Path

import pytest

from usersnap_pipeline.emulator.corpus import corpus_texts
from usersnap_pipeline.transform.redact import iban_valid, luhn_valid, redact

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _planted(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", ["planted_pii.jsonl", "planted_pii_heldout.jsonl"])
def test_every_planted_detail_is_masked(name):
    """Hand-written feedback with emails, phone numbers, card numbers, IBANs and street addresses in the
    formats of several countries. The held-out file was written before the patterns were last tuned:
    on its first run 19 of its 21 details were masked (a Portuguese "Rua" and a Dutch "-gracht" were not)."""
    missed = [(detail, redact(entry["text"])) for entry in _planted(name) for detail in entry["pii"]
              if detail in redact(entry["text"])]
    assert missed == []


def test_the_rest_of_a_text_stays_as_written():
    assert redact("Please call me back on +49 170 1234567, the invoice is still wrong.") == \
        "Please call me back on [phone], the invoice is still wrong."
    assert redact("Refund to DE89 3704 0044 0532 0130 00 please") == "Refund to [IBAN] please"
    assert redact(None) is None and redact("") == ""


@pytest.mark.parametrize("text", [
    "Invoice #2024-0713 has the wrong number of seats",
    "Can we have ISO 8601 dates (2024-03-15)?",
    "Recurring tasks created at 23:30 end up on the wrong day",
    "Version 2.14.3 broke the export, 1,000 rows max",
    "We pay 12€ per user for 25 seats; order 48213977 is missing",
    "I have to type the 6 digits every time, we only have 18 active users",
    "card 4111 1111 1111 1112 fails the checksum, so it is not a card number",
])
def test_ordinary_numbers_are_not_taken_for_personal_details(text):
    assert redact(text) == text


def test_the_realistic_corpus_is_almost_untouched():
    """Of the 740 hand-written texts, only an email address and a Swiss company id are masked."""
    changed = {text.text for text in corpus_texts() if redact(text.text) != text.text}
    assert len(changed) <= 2
    assert any("billing@ourcompany.com" in text for text in changed)


def test_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")


def test_tables_shown_in_the_ui_are_masked():
    """Every metadata table (the data point preview, mismatches, top themes) goes through preview_table."""
    from usersnap_pipeline.orchestration.metadata import preview_table

    table = preview_table([{"title": "Call me on +49 170 1234567", "rating": 2}], ("title", "rating"))
    assert [record.data for record in table.records] == [{"title": "Call me on [phone]", "rating": 2}]
