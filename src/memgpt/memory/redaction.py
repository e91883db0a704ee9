"""Redaction: masking secrets and personal data in text before it is stored or sent to an LLM.

An agent's policy (``AgentSettings.redact``, off by default) masks API keys and tokens, e-mail addresses,
phone numbers, payment card numbers (only digit runs that pass the Luhn checksum) and IBANs (only those whose
mod-97 checksum holds), plus the agent's own patterns (``AgentSettings.redact_patterns``: name -> regular
expression). Each match becomes ``[redacted:NAME]`` and is counted. Applied where text enters an agent (user
messages, imported messages, archival inserts, core-memory edits), so the original is never written and so
never reaches the model either.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from memgpt.errors import ValidationError
from memgpt.memory.agent_state import AgentSettings

MAX_PATTERNS = 50
MAX_PATTERN_CHARS = 500
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

_KEY = re.compile(
    r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"  # OpenAI, Anthropic (sk-ant-...), Stripe-style keys
    r"|\bmgpt_[A-Za-z0-9_-]{16,}"  # memgpt's own API keys
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JSON web tokens
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*"
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d ()./-]{6,18}\d(?![\w])")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _phone(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return 7 <= len(digits) <= 15 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", match.group())  # not a date


Check = Callable[[re.Match[str]], bool]
BUILT_IN: tuple[tuple[str, re.Pattern[str], Check | None], ...] = (
    ("key", _KEY, None),
    ("email", _EMAIL, None),
    ("iban", _IBAN, lambda m: iban_ok(m.group())),
    ("card", _CARD, _card),
    ("phone", _PHONE, _phone),
)


@dataclass(slots=True)
class Redacted:
    text: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def check_patterns(patterns: object) -> dict[str, str]:
    """The agent's own patterns, checked: names of lowercase letters, digits and _; valid regular expressions."""
    if not isinstance(patterns, Mapping):
        raise ValidationError("Redaction patterns must map names to regular expressions.")
    if len(patterns) > MAX_PATTERNS:
        raise ValidationError(f"At most {MAX_PATTERNS} redaction patterns.")
    checked: dict[str, str] = {}
    for name, pattern in patterns.items():
        if not isinstance(name, str) or not NAME.match(name):
            raise ValidationError(f"Redaction pattern name {name!r}: lowercase letters, digits and _, up to 40.")
        if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_CHARS:
            raise ValidationError(f"Redaction pattern {name!r} must be a regular expression of 1-500 characters.")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValidationError(f"Redaction pattern {name!r} is not a valid regular expression: {exc}.") from None
        checked[name] = pattern
    return checked


def redact(text: str, patterns: Mapping[str, str] | None = None) -> Redacted:
    """``text`` with every secret and piece of personal data masked, and how many of each kind."""
    result = Redacted(text)
    rules: list[tuple[str, re.Pattern[str], Check | None]] = [
        (name, re.compile(p), None) for name, p in (patterns or {}).items()
    ]
    for name, pattern, check in [*rules, *BUILT_IN]:

        def replace(match: re.Match[str], name: str = name, check: Check | None = check) -> str:
            if check is not None and not check(match):
                return match.group()
            result.counts[name] += 1
            return f"[redacted:{name}]"

        result.text = pattern.sub(replace, result.text)
    return result


def redactor(settings: AgentSettings) -> Callable[[str], Redacted] | None:
    """The agent's redaction (None when its policy is off)."""
    if not settings.redact:
        return None
    patterns = dict(settings.redact_patterns)
    return lambda text: redact(text, patterns)


def redact_for(settings: AgentSettings, text: str) -> Redacted:
    """``text`` as the agent's policy stores it (unchanged when redaction is off)."""
    found = redactor(settings)
    return found(text) if found is not None else Redacted(text)
