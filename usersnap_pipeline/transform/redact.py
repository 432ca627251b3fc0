"""Mask what customers type about themselves in text shown to people: email addresses, phone numbers,
card and IBAN numbers, street addresses where detectable. Pure: no I/O.

The warehouse keeps the original text; quotes in the report, the UI's metadata and alerts are masked.
Numbers are masked only when they are what they look like: a card number passes the Luhn check, an IBAN
its mod-97 check, a phone number has 7 to 15 digits and is not a date, a time or a version. Street
addresses are found by a house number next to a street word (English, German, French, Spanish, Italian,
Dutch): an address written without either stays.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
# 13 to 19 digits in groups of any size separated by single spaces or dashes
CARD = re.compile(r"(?<![\d.,])\d(?:[ -]?\d){12,18}(?![\d.,]\d)")
# an optional +/00 country prefix, then digits with spaces, dots, dashes, slashes or parentheses between
PHONE = re.compile(r"(?<![\w+#])(?:\+|00)?\(?\d[\d ()./-]{5,}\d(?![\w])")
# inside a candidate: a date, a time or a version number
NOT_A_PHONE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|^\d{1,2}(?:\.\d{1,3}){1,3}$|\d{1,2}:\d{2}")
STREET_WORDS = (
    r"street|st\.|road|rd\.|avenue|ave\.?|boulevard|blvd\.?|lane|ln\.|drive|dr\.|court|ct\.|place|way|square|"
    r"parkway|terrace|crescent|highway|"
    r"straße|strasse|str\.|gasse|weg|platz|allee|ring|damm|"
    r"rue|avenue|bd|chemin|impasse|allée|"
    r"calle|avenida|plaza|paseo|carrer|rua|travessa|"
    r"via|viale|piazza|corso|"
    r"straat|laan|plein|gracht"
)
_NAME = r"[A-ZÀ-Ý][\w'’-]*"  # a capitalised word: a street's name
_OF = r"(?:(?:de|del|della|di|des|du|la|le)\s+)?"
_NUMBER = r"\d{1,5}[a-z]?\b"
# "221B Baker Street", "12 rue de Rivoli", "Calle Mayor 5", "Hauptstraße 12a", "Via Roma 1"
ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:{_NAME}\s+){{0,3}}(?i:{STREET_WORDS})(?!\w)(?:\s+{_OF}{_NAME}){{0,2}}"
    rf"|\b(?:{_NAME}\s+)?(?i:{STREET_WORDS})(?!\w)(?:\s+{_OF}{_NAME}){{0,3}}\s+{_NUMBER}"
    rf"|\b{_NAME}(?i:straße|strasse|str\.|gasse|weg|platz|allee|straat|laan|gracht)\s+{_NUMBER}")

MASKS = {"email": "[email]", "iban": "[IBAN]", "card": "[card number]", "phone": "[phone]", "address": "[address]"}


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match[0])
    return MASKS["card"] if 13 <= len(digits) <= 19 and luhn_valid(digits) else match[0]


def _iban(match: re.Match) -> str:
    # The pattern may take a word that follows ("… 3201 BIC"): the longest valid start is the IBAN.
    text = match[0]
    while text:
        if iban_valid(text):
            return MASKS["iban"] + match[0][len(text):]
        text = text[:-1].rstrip()
    return match[0]


def _phone(match: re.Match) -> str:
    text = match[0].strip()
    digits = re.sub(r"\D", "", text)
    if NOT_A_PHONE.search(text):
        return match[0]
    # With a country prefix, 7 to 15 digits; without, at least 9 (an order or ticket number is shorter).
    international = text.startswith(("+", "00"))
    return MASKS["phone"] if (7 if international else 9) <= len(digits) <= 15 else match[0]


def redact(text: str | None) -> str | None:
    """``text`` with personal details masked (``[email]``, ``[phone]``, ``[card number]``, ``[IBAN]``,
    ``[address]``); None stays None."""
    if not text:
        return text
    text = EMAIL.sub(MASKS["email"], text)
    text = IBAN.sub(_iban, text)
    text = CARD.sub(_card, text)
    text = ADDRESS.sub(MASKS["address"], text)
    return PHONE.sub(_phone, text)
