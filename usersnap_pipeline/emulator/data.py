"""Seeded, deterministic Usersnap-shaped data: projects, assignees and feedback items.

The same (seed, items, projects, days, end) always gives the same data. Every item is shaped like
the spec's example and typed as the spec publishes it (``spec/usersnap-api-v0.1.schema.json``), with
the variety real accounts show: several form types (title + comment, five-star, NPS, smileys, thumbs,
yes/no, custom choice fields), labels, custom statuses, null and missing fields, nested custom data,
unicode and emoji, very long texts, demo items, items edited after creation. The generator also
remembers which topic produced each text, so theme quality can be measured against it (that truth
never appears in the API's answers).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .corpus import NOISE, texts_by_topic

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# The first generator's topics: six template phrases each. A lexical theme finder looked excellent on
# them (NMI 0.94) and poor on feedback people wrote (0.25): they stay only so that the benchmark can
# show that difference (``generate(texts="templates")``). The default texts are the corpus's.
TEMPLATE_TOPICS: dict[str, dict[str, list[str]]] = {
    "login": {
        "titles": ["Can't log in", "Login broken", "Password reset not working", "Stuck at sign in"],
        "phrases": [
            "I can't log in with my Google account, the sign in page just reloads",
            "the password reset email never arrives in my inbox",
            "two-factor authentication code is rejected every time I sign in",
            "after the update the login button does nothing",
            "single sign-on with Okta fails with an error about the session",
            "I get logged out every few minutes and have to sign in again",
        ],
    },
    "performance": {
        "titles": ["Very slow", "Page takes forever", "Performance issue", "Dashboard lags"],
        "phrases": [
            "the dashboard takes more than twenty seconds to load",
            "everything is very slow since yesterday, pages hang and spin",
            "scrolling the report table lags and freezes the browser tab",
            "loading the project list is painfully slow with many items",
            "the app becomes sluggish and uses a lot of memory after an hour",
            "search results take ages to appear, the spinner never stops",
        ],
    },
    "billing": {
        "titles": ["Invoice question", "Charged twice", "Billing problem", "Refund request"],
        "phrases": [
            "I was charged twice for the same subscription this month",
            "the invoice shows the wrong VAT number and company address",
            "please refund the annual plan, we downgraded last week",
            "the credit card payment fails although the card is valid",
            "pricing page and the invoice amount do not match",
            "how can I download past invoices as PDF for accounting",
        ],
    },
    "export": {
        "titles": ["Export to CSV", "Need Excel export", "Export broken", "Data export"],
        "phrases": [
            "please add an export to CSV for the whole table",
            "the Excel export misses the custom columns we added",
            "exported file has broken characters in names with accents",
            "we need a scheduled export of all reports to our data warehouse",
            "the PDF export cuts off the last column of the chart",
            "export button is greyed out for viewers, they need it too",
        ],
    },
    "dark_mode": {
        "titles": ["Dark mode please", "Theme request", "Night theme", "Contrast too bright"],
        "phrases": [
            "please add a dark mode, the white background hurts my eyes at night",
            "a night theme with darker colors would be great",
            "the contrast is too bright, can we get a dark theme option",
            "dark mode should follow the operating system appearance setting",
            "in dark mode some icons are invisible on the black background",
        ],
    },
    "mobile": {
        "titles": ["Mobile layout broken", "iPhone issue", "Android app", "Tablet view"],
        "phrases": [
            "on my iPhone the menu overlaps the content and I can't tap anything",
            "the Android app crashes when I rotate the phone",
            "mobile layout is broken, buttons are cut off on small screens",
            "on the tablet the sidebar never collapses and hides the page",
            "pinch to zoom does not work on mobile Safari",
        ],
    },
    "notifications": {
        "titles": ["Too many emails", "Notifications", "Missing alerts", "Email digest"],
        "phrases": [
            "I receive far too many notification emails, please add a daily digest",
            "push notifications arrive hours late on my phone",
            "I never get an alert when someone mentions me in a comment",
            "unsubscribe link in the notification email does not work",
            "please let me mute notifications for a single project",
        ],
    },
    "search": {
        "titles": ["Search doesn't find", "Search filters", "Bad search results", "Search request"],
        "phrases": [
            "search does not find documents by their exact title",
            "please add filters by date and author to the search",
            "search results ignore typos and show nothing relevant",
            "the search box forgets my query when I go back",
            "full text search inside attachments would save us a lot of time",
        ],
    },
}

# What customers wrap around their point, in the languages they write in: the mess a theme finder
# must see through (the corpus's own texts carry some of it too).
OPENERS = ["Hi team, ", "Hello! ", "Quick note: ", "Hey, ", "FYI ", "Hallo zusammen, ", "Bonjour, ", "Hola, ",
           "Good morning, ", "Dear support, "]
CLOSERS = [" Thanks!", " Thank you!", " Please fix.", " 🙏", " Grüße aus Linz.", " Danke!", " Gracias.",
           " This is blocking our team 😤", " Otherwise great product ❤️", " urgent!!", " ASAP please.",
           "\n\nSent from my iPhone", "\n\nBest regards,\nAnna Berger\nHead of Operations | Acme GmbH",
           "\n\nCheers,\nTom", " Thx"]
# The template texts keep a lighter touch of it: English greetings and one-line sign-offs, often none.
TEMPLATE_OPENERS = ["", "", *OPENERS[:5]]
TEMPLATE_CLOSERS = ["", "", *CLOSERS[:9]]

LABELS = [
    ("bug", "Bug", "#f71007"), ("feature-request", "Feature request", "#1b8ef2"),
    ("ux", "UX", "#9b51e0"), ("billing", "Billing", "#f2c94c"),
    ("performance", "Performance", "#27ae60"), ("mobile", "Mobile", "#eb5757"),
]
# The label a triager would most often give each topic's feedback.
TOPIC_LABELS = {"login": "bug", "performance": "performance", "billing": "billing", "export": "feature-request",
                "dark_mode": "ux", "mobile": "mobile", "notifications": "feature-request", "search": "ux",
                "integrations": "feature-request", "permissions": "ux", "data_loss": "bug", "onboarding": "ux",
                "reports": "feature-request", "localization": "ux"}
BASE_STATUSES = ["open", "open", "open", "in_progress", "done"]
CUSTOM_STATUSES = ["needs_triage", "wont_fix", "planned"]
FIRST_NAMES = ["Anna", "Ben", "Chiara", "David", "Elif", "Felix", "Greta", "Hiro", "Ines", "Jonas"]
LAST_NAMES = ["Berger", "Costa", "Dubois", "Eder", "Fischer", "García", "Huber", "Ito"]
BROWSERS = [("Firefox", "103.0", "Macintosh", "Firefox 103 (macOS Catalina)"),
            ("Chrome", "126.0", "Windows", "Chrome 126 (Windows 11)"),
            ("Safari", "17.4", "iOS", "Mobile Safari 17 (iOS 17)"),
            ("Edge", "125.0", "Windows", "Edge 125 (Windows 10)")]
PLACES = [("Linz", "Austria"), ("Vienna", "Austria"), ("Berlin", "Germany"), ("Paris", "France"),
          ("São Paulo", "Brazil"), ("Tokyo", "Japan"), ("Austin", "United States"), (None, None)]
FORMS = ["bug_report", "five_star", "nps", "thumbs", "smileys"]


@dataclass(frozen=True)
class Drift:
    """How often a topic comes up over the window, relative to a steady topic's 1: ``start`` until
    ``begin`` (a fraction of the window), then linearly to ``end`` by ``finish``, then ``end``. A spike is
    a drift with ``finish`` just after ``begin``."""
    start: float
    end: float
    begin: float = 0.0
    finish: float = 1.0

    def at(self, progress: float) -> float:
        if progress <= self.begin:
            return self.start
        if progress >= self.finish:
            return self.end
        return self.start + (self.end - self.start) * (progress - self.begin) / (self.finish - self.begin)


# The demo's planted trends (other topics stay at 1), so trends have something real to find: dark mode
# requests grow tenfold over the window, billing complaints fade; noise is rare.
TOPIC_DRIFT = {"dark_mode": Drift(0.3, 3.0), "billing": Drift(2.0, 0.3), NOISE: Drift(0.4, 0.4)}
PASTED_LOG = "\n".join(f"Uncaught TypeError: Cannot read properties of undefined (reading 'id') at main.js:1:{n}"
                        for n in range(4000, 4400))


def topics_of(texts: str) -> list[str]:
    """The topics a generator draws from: the corpus's (noise included) or the templates'."""
    if texts == "templates":
        return list(TEMPLATE_TOPICS)
    if texts == "corpus":
        return list(texts_by_topic())
    raise ValueError(f"texts must be 'corpus' or 'templates', not {texts!r}")


def topic_weights(progress: float, topics: list[str], drift: Mapping[str, Drift] | None = None) -> list[float]:
    """Relative frequency of each topic at ``progress`` (0..1) through the window."""
    drift = TOPIC_DRIFT if drift is None else drift
    return [drift[topic].at(progress) if topic in drift else 1.0 for topic in topics]


def fmt_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(TIME_FORMAT)


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class Dataset:
    projects: list[dict[str, Any]]
    assignees: dict[str, list[dict[str, Any]]]  # by project_id
    items: list[dict[str, Any]]
    topics: dict[str, str]  # feedback_id -> topic that produced its text
    rating_scales: dict[str, str] = field(default_factory=dict)  # feedback_id -> nps/one_to_five/thumb


class ItemFactory:
    """Builds feedback items; shared by the seeded generator and by live submissions."""

    def __init__(self, rng: random.Random, project: dict[str, Any], users: list[dict[str, Any]],
                 company_labels: list[dict[str, Any]], texts: str = "corpus"):
        self.rng = rng
        self.project = project
        self.users = users
        self.labels = {lab["identifier"]: lab for lab in company_labels}
        self.texts = texts
        self.topics = topics_of(texts)

    def make(self, created_at: datetime, feedback_number: int, *, form: str | None = None,
             topic: str | None = None, latest: datetime | None = None) -> tuple[dict[str, Any], str, str | None]:
        rng = self.rng
        topic = topic or rng.choice(self.topics)
        form = form or rng.choice(FORMS)
        feedback_id = _uuid(rng)
        is_demo = rng.random() < 0.01
        comment = self._text(topic, long=rng.random() < 0.01)
        if is_demo:
            comment = "[Sample Feedback] " + comment
        inputs, scale = self._inputs(form, topic, comment)
        edited = rng.random() < 0.3
        updated = created_at + timedelta(seconds=rng.uniform(0.01, 0.5))
        if edited:
            # Edited up to 40 days later, but never after `latest` (the dataset's "now").
            room = min(timedelta(days=40), (latest or created_at + timedelta(days=40)) - created_at)
            updated = created_at + max(timedelta(seconds=1), room * rng.random())
        item: dict[str, Any] = {
            "feedback_id": feedback_id,
            "feedback_number": feedback_number,
            "public_link": f"https://app.usersnap.com/l/feedback/{feedback_id}",
            "project_id": self.project["project_id"],
            "created_at": fmt_time(created_at),
            "updated_at": fmt_time(updated),
            "status_type": self._status(edited),
            "priority": "high" if rng.random() < 0.15 else None,
            "assignee_id": rng.choice(self.users)["user_id"] if self.users and rng.random() < 0.4 else None,
            "is_demo": is_demo,
            "email": self._email(),
            "client": self._client(),
            "custom_data": self._custom_data(),
            "screenshot": self._screenshot(feedback_id),
            "screen_recording": None,
            "ordered_inputs": inputs,
            "labels": self._labels(topic),
        }
        # Real data has missing keys, not only nulls.
        for optional in ("email", "priority", "assignee_id", "custom_data", "screen_recording"):
            if rng.random() < 0.03:
                item.pop(optional, None)
        return item, topic, scale

    def _text(self, topic: str, *, long: bool = False) -> str:
        rng = self.rng
        if self.texts == "templates":
            phrases = TEMPLATE_TOPICS[topic]["phrases"]
            body = rng.choice(phrases)
            if rng.random() < 0.4:
                body += ", and " + rng.choice(phrases)
            text = rng.choice(TEMPLATE_OPENERS) + body[0].upper() + body[1:] + "." + rng.choice(TEMPLATE_CLOSERS)
            return text + " " + " ".join(rng.choice(phrases) + "." for _ in range(400)) if long else text
        text = rng.choice(texts_by_topic()[topic])
        if topic != NOISE:
            text = (rng.choice(OPENERS) if rng.random() < 0.2 else "") + text + \
                (rng.choice(CLOSERS) if rng.random() < 0.3 else "")
        if long:  # the whole message pasted twice, then a console log
            text = f"{text}\n\n{text}\n\nConsole:\n{PASTED_LOG}"
        return text

    def _inputs(self, form: str, topic: str, comment: str) -> tuple[list[dict[str, Any]], str | None]:
        rng = self.rng
        inputs: list[tuple[str, Any]] = []
        scale = None
        if form == "bug_report":
            # Many forms prefill the title from the comment's first words; people also write their own.
            if self.texts == "templates" and rng.random() >= 0.3:
                inputs.append(("Title", rng.choice(TEMPLATE_TOPICS[topic]["titles"])))
            elif rng.random() < 0.5:
                inputs.append(("Title", comment[:rng.randint(20, 60)].rstrip()))
            inputs.append(("Comment", comment))
            inputs.append(("Severity", rng.choice(["Low", "Medium", "Critical", ""])))
        elif form == "five_star":
            scale = "one_to_five"
            inputs.append(("How would you rate your experience?", rng.randint(1, 5)))
            inputs.append(("Tell us more", comment if rng.random() < 0.9 else ""))
            inputs.append(("Did you find what you were looking for?", rng.choice([True, False, None])))
        elif form == "nps":
            scale = "nps"
            inputs.append(("How likely are you to recommend us to a friend?", rng.randint(0, 10)))
            inputs.append(("What is the main reason for your score?", comment))
            inputs.append(("Which plan are you on?", rng.choice(["Free", "Pro", "Enterprise", None])))
        elif form == "smileys":
            scale = "one_to_five"
            inputs.append(("How do you feel about this page?", rng.randint(1, 5)))
            inputs.append(("What could we do better?", comment))
        else:
            scale = "thumb"
            inputs.append(("Was this page helpful?", rng.choice([1, -1])))
            inputs.append(("Comment", comment))
        return [published_input(order, label, value) for order, (label, value) in enumerate(inputs)], scale

    def _status(self, edited: bool) -> str:
        rng = self.rng
        if rng.random() < 0.05:
            return rng.choice(CUSTOM_STATUSES)
        return rng.choice(BASE_STATUSES + (["done", "in_progress"] if edited else []))

    def _email(self) -> str | None:
        rng = self.rng
        if rng.random() < 0.2:
            return None
        name = rng.choice(FIRST_NAMES).lower()
        return f"{name}.{rng.randint(1, 9999)}@{rng.choice(['example.com', 'acme.io', 'müller.de'])}"

    def _client(self) -> dict[str, Any] | None:
        rng = self.rng
        if rng.random() < 0.05:
            return None
        name, version, os_name, full = rng.choice(BROWSERS)
        city, country = rng.choice(PLACES)
        return {"url": f"https://app.example.com/{rng.choice(['dashboard', 'reports', 'settings', 'login'])}",
                "client_type": "browser", "city_name": city, "country_name": country,
                "screen_width": rng.choice([1280, 1728, 390, 1920]), "screen_height": rng.choice([800, 1117, 844]),
                "browser_full_name": full, "browser_os": os_name, "browser_name": name, "browser_version": version}

    def _custom_data(self) -> dict[str, Any] | None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            return None
        data: dict[str, Any] = {"System": rng.choice(["Staging", "Production"]),
                                "Release Version": f"0.{rng.randint(1, 9)}"}
        if roll > 0.6:
            data["user"] = {"plan": rng.choice(["free", "pro"]), "seats": rng.randint(1, 200),
                            "flags": {"beta": rng.random() < 0.5}}
        if roll > 0.9:
            data["tags"] = ["a", "b"]
        return data

    def _screenshot(self, feedback_id: str) -> dict[str, Any] | None:
        rng = self.rng
        if rng.random() < 0.3:
            return None
        comments = [{"label": "1", "comment": "here"}] if rng.random() < 0.2 else []
        return {"annotated_image_url": f"https://resources.usersnap.com/company/x/{feedback_id}.png?etag=1",
                "comments": comments}

    def _labels(self, topic: str) -> list[dict[str, Any]]:
        rng = self.rng
        chosen: list[str] = []
        if topic in TOPIC_LABELS and rng.random() < 0.6:
            chosen.append(TOPIC_LABELS[topic])
        if rng.random() < 0.1:
            chosen.append(rng.choice(list(self.labels)))
        return [dict(self.labels[identifier]) for identifier in dict.fromkeys(chosen)]


def published_input(order: int, label: str, answer: Any) -> dict[str, Any]:
    """An ``ordered_inputs`` entry as the published API types it: ``value`` is a string or null; a
    text input also fills ``text_value``; a rating has a null ``text_value`` and its number as a string
    in ``value``; a yes/no sets ``boolean_value`` (the spec is silent on its ``value``: the strictest
    reading of "value: string" is the answer written as ``"true"`` / ``"false"``)."""
    if isinstance(answer, bool):
        return {"order": order, "label": label, "boolean_value": answer, "text_value": None,
                "value": "true" if answer else "false"}
    if isinstance(answer, (int, float)):
        return {"order": order, "label": label, "boolean_value": None, "text_value": None, "value": f"{answer:g}"}
    text = None if answer is None else str(answer)
    return {"order": order, "label": label, "boolean_value": None, "text_value": text, "value": text}


def generate(*, seed: int = 1, items: int = 1000, projects: int = 2, days: int = 180,
             end: datetime | None = None, texts: str = "corpus", drift: Mapping[str, Drift] | None = None) -> Dataset:
    """Generate ``items`` feedback items spread over ``projects`` projects and the ``days`` before ``end``,
    their texts drawn from the hand-written corpus (or, ``texts="templates"``, the first generator's phrases),
    each topic as often as ``drift`` says (default TOPIC_DRIFT: the demo's planted trends)."""
    names = topics_of(texts)
    if items < 0 or projects < 1 or days < 1:
        raise ValueError("items must be >= 0, projects >= 1, days >= 1")
    rng = random.Random(seed)
    end = (end or datetime.now(timezone.utc)).astimezone(timezone.utc)
    start = end - timedelta(days=days)
    company_id = _uuid(rng)
    company_labels = [{"company_label_id": _uuid(rng), "identifier": ident, "name": name, "color": color}
                      for ident, name, color in LABELS]
    shared_user_ids = [_uuid(rng) for _ in range(3)]
    project_list, assignees, factories = [], {}, []
    for index in range(projects):
        project = {
            "project_id": _uuid(rng), "api_key": _uuid(rng), "company_id": company_id,
            "space_id": _uuid(rng), "created_at": fmt_time(start - timedelta(days=30)),
            "updated_at": fmt_time(start), "archived_at": None, "owner_id": shared_user_ids[0],
            "default_assignee_id": None, "name": ["Web App", "Mobile App", "Marketing Site",
                                                  "Help Center"][index % 4] + ("" if index < 4 else f" {index}"),
            "is_live": True,
        }
        # user_id is unique per project only: some ids recur across projects.
        users = [{"user_id": uid, "first_name": rng.choice(FIRST_NAMES), "last_name": rng.choice(LAST_NAMES),
                  "gravatar_url": f"https://www.gravatar.com/avatar/{uid.replace('-', '')}"}
                 for uid in shared_user_ids[: 1 + index % 3] + [_uuid(rng) for _ in range(2)]]
        project_list.append(project)
        assignees[project["project_id"]] = users
        factories.append(ItemFactory(rng, project, users, company_labels, texts))

    span = (end - start).total_seconds()
    created = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(items))
    numbers = [0] * projects
    all_items, topics, scales = [], {}, {}
    for moment in created:
        index = rng.randrange(projects)
        numbers[index] += 1
        topic = rng.choices(names, weights=topic_weights((moment - start) / (end - start), names, drift))[0]
        item, topic, scale = factories[index].make(moment, numbers[index], topic=topic, latest=end)
        all_items.append(item)
        topics[item["feedback_id"]] = topic
        if scale:
            scales[item["feedback_id"]] = scale
    return Dataset(projects=project_list, assignees=assignees, items=all_items, topics=topics,
                   rating_scales=scales)
