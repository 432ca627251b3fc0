"""What a theme should read of a data point: its text without the politeness, signatures and noise
that real feedback wraps around the point, and a word list that knows the function words of the
languages customers write in. Pure: no I/O.

Boilerplate ("Hi team,", "Thanks!", "Sent from my iPhone", "urgent", a signature block, emoji) is
what made lexical themes name themselves "Thanks / project"; an embedding reads it too, so it goes
before anything is vectorized.
"""

from __future__ import annotations

import re

from ..transform.redact import MASKS, redact
from .boilerplate import strip_boilerplate

# A line that is only a sign-off, a signature or a device footer ends the message's content.
_SIGN_OFF = re.compile(
    r"""^\s*(
        sent\ from\ my\ [\w ]+ | gesendet\ von\ meinem\ [\w ]+ | enviado\ desde\ mi\ [\w ]+ | envoyé\ de\ mon\ [\w ]+
      | (best|kind|warm|many)?\s*(regards|wishes)[,.!]? | best[,.!]? | cheers[,.!]? | br[,.]? | thx[,.!]?
      | (many\ )?thanks?(\ you)?(\ (so|very)\ much|\ a\ lot|\ in\ advance)?[,.!]*
      | (mit\ )?(freundlichen|besten|lieben)\ grüßen[,.!]? | viele\ grüße[,.!]? | lg[,.!]? | mfg[,.!]?
      | saludos[,.!]? | cordialement[,.!]? | bien\ à\ vous[,.!]? | merci[,.!]* | gracias[,.!]* | danke[,.!]*
      | --+ | __+
    )\s*$""", re.IGNORECASE | re.VERBOSE)
_GREETING = re.compile(
    r"""^\s*(
        (hi|hello|hey|hallo|hola|bonjour|salut|servus|moin|dear|good\ (morning|afternoon|evening)|greetings)
        (\ (there|team|all|folks|guys|everyone|support|zusammen|equipo|à\ tous|l'équipe|from\ [\w ]+?))?
        [!,.:;]*(?=\s|$)
      | quick\ (note|one|question)[!,.:;]* | fyi[!,.:;]*
    )""", re.IGNORECASE | re.VERBOSE)
# Politeness and pressure anywhere in the text: it says how the customer feels, not what about.
_FILLER = re.compile(
    r"""(?<!\w)(
        (many\ )?thanks?(\ you)?(\ (so|very)\ much|\ a\ lot|\ in\ advance|\ for\ (looking\ into\ it|checking|your\ help))?
      | thx | ty | danke(\ schön)? | gracias | merci(\ beaucoup)? | obrigad[oa]
      | please\ fix(\ (this|it))?(\ asap)? | asap | urgent(ly)? | dringend | urgente
      | otherwise\ (a\ )?great\ (product|tool|app)
    )(?!\w)[!.]*""", re.IGNORECASE | re.VERBOSE)
# A sign-off written on the last line itself: "… once? Kind regards, Petra", "… my tasks? LG Theresa".
_TRAILING_SIGN_OFF = re.compile(
    r"(?<=[.!?,])\s*((best|kind|warm|many)\s+)?(regards|wishes|grüße|greetings|saludos|cheers|thanks|best|lg|br)"
    r"[,.!]?(\s+[^\W\d_]+)?\s*$", re.IGNORECASE)
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_MASK = re.compile("|".join(re.escape(mask) for mask in MASKS.values()))
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")  # letters, contractions kept whole
MIN_WORDS = 2  # fewer words than this left after cleaning: nothing a theme could be about


def prose(text: str) -> str:
    """The text's lines without the one-word answers a form adds beside what was written ("Enterprise",
    "Low" from a plan or severity choice): they are not what the customer said."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    said = [line for line in lines if len(line.split()) > 1]
    return "\n".join(said) if said else "\n".join(lines)


def clean_for_themes(text: str, boilerplate: frozenset[str] = frozenset()) -> str:
    """The text's prose with the learned ``boilerplate`` (boilerplate.py), greetings, sign-offs, signatures,
    politeness, emoji, pasted repetition and personal details (emails, phone, card and IBAN numbers,
    addresses) removed: a theme's label and keyphrases are read from these texts, so no customer's address
    can name a theme."""
    lines = []
    for line in _MASK.sub(" ", redact(prose(strip_boilerplate(text, boilerplate)))).splitlines():
        if _SIGN_OFF.match(line):
            break  # what follows a sign-off is a signature: name, title, company
        lines.append(line)
    kept = " ".join(lines)
    for _ in range(2):  # "Hey! Quick one: …"
        kept = _GREETING.sub(" ", kept).lstrip()
    kept = _TRAILING_SIGN_OFF.sub("", kept)
    kept = _FILLER.sub(" ", kept)
    kept = _EMOJI.sub(" ", kept)
    sentences, seen = [], set()
    for sentence in _SENTENCE.split(" ".join(kept.split())):
        key = sentence.casefold().strip(" .!?")
        if key and key not in seen:  # a sentence pasted twice counts once
            seen.add(key)
            sentences.append(sentence)
    return " ".join(sentences).strip(" ,;:-")


def words(text: str) -> list[str]:
    """The words of a text, lower-cased, contractions kept whole ("doesn't", not "doesn")."""
    return [word.replace("’", "'") for word in WORD.findall(text.casefold())]


def is_unclear(cleaned: str) -> bool:
    """Too little left to say what it is about ("test", "asdf", "👍", "Thanks!")."""
    # Enough words in its start settle it (a word cut at the end of the start is still one word); a pasted
    # log of 30 kB is not read through to find that it holds three.
    return len(words(cleaned[:400])) < MIN_WORDS and len(words(cleaned)) < MIN_WORDS


# The commonest function words of each language customers write in: enough to tell them apart.
FUNCTION_WORDS = {
    "English": frozenset("the and is are was to of in for on with it this that my i you we not can don't doesn't "
                         "when have has be it's".split()),
    "German": frozenset("der die das und ist nicht ich wir es mit von zu den ein eine auf für sich auch bei wird "
                        "kann beim".split()),
    "Spanish": frozenset("el la los las y es no que de en un una por para con se lo me al del está".split()),
    "French": frozenset("le la les et est pas je de des du en un une pour que qui avec sur au ne ce".split()),
    "Portuguese": frozenset("o os e é não que de do da em um uma para com seria muito".split()),
}


def language_of(text: str) -> str:
    """The language whose function words the text uses most (English when it uses none)."""
    found = words(text)
    counts = {language: sum(word in vocabulary for word in found) for language, vocabulary in FUNCTION_WORDS.items()}
    best = max(counts, key=lambda language: (counts[language], language == "English"))
    return best if counts[best] else "English"


# Function words of the languages seen in feedback, and the words every piece of feedback uses: neither
# may start or end a keyword phrase, nor be a keyword alone.
STOP_WORDS = frozenset("""
a about above after again against all almost also am an and any anyone anything anyway are aren't around as at
be because been before being below between both but by can can't cannot could couldn't did didn't do does doesn't
doing don't down during each either else even ever every few for from further get gets getting got had hadn't has
hasn't have haven't having he her here hers herself him himself his how i i'd i'll i'm i've if in into is isn't it
it's its itself just keep let let's like lot lots made make makes many may me might more most much must mustn't my
myself need needs no nor not now of off often on once one only or other others our ours ourselves out over own
please pls quite rather really right same see seems shan't she should shouldn't since so some something still such
sure than that that's the their theirs them themselves then there there's these they they're this those though
through to too under until up upon us use used using very via was wasn't way we we'd we're we've well were weren't
what what's when where which while who whom why will with won't would wouldn't yes yet you you'd you'll you're
you've your yours yourself yourselves without within someone something anyone everyone everything nothing
anything whenever whether
hi hello hey thanks thank thx cheers regards best kind dear team guys folks everyone anybody somebody
issue issues problem problems thing things stuff bit way ok okay also etc e.g eg ie great good nice love
able want wanted would like could tried try trying still already always never every time times day days today
yesterday tomorrow now since ago new old first last next many much lot super totally completely
der die das den dem des ein eine einer eines einem einen und oder aber nicht kein keine keinen ist sind war waren
bin bist hat haben hatte wird werden wurde kann können könnte muss müssen soll sollte will wollen ich du er sie es
wir ihr mich mir dich dir uns euch mein meine dein sein ihre unser bei mit von zu zum zur auf aus für über unter
nach vor seit bis im in an am als wie wenn dass weil ob auch noch schon nur sehr immer mehr viel viele bitte danke
hallo gibt man da hier dort so was wer wo warum diese dieser dieses jetzt ganz mal doch denn einfach
el la los las un una unos unas y o pero no ni es son está están era fue ha han he hay ser estar tengo tiene tienen
puede pueden me mi mis tu te se nos lo le les de del al a en con por para sin sobre entre desde hasta que cuando
como donde muy más ya también solo siempre este esta estos estas ese esa eso cada todo todos favor gracias hola
le la les un une des du de d' l' et ou mais ne pas plus est sont était a ai as avons ont être avoir je tu il elle
nous vous ils elles me te se mon ma mes ton ta ses notre votre leur dans sur sous avec pour par sans chez en au aux
que qui quoi quand comme où très aussi déjà encore toujours ce cette ces cet tout tous merci bonjour svp
o a os as um uma e ou mas não é são está estão foi tem têm de do da dos das em no na nos nas com por para que
muito mais também já sempre este esta isso obrigado obrigada olá
""".split())
