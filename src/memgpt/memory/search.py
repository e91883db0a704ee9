"""Backend-independent pieces of search: query tokenising for full-text engines and rank fusion."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

_WORD = re.compile(r"\w+", re.UNICODE)

# Very common English words add matching cost (every row matches) and almost no ranking signal.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "too",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
    ]
)

TEXT_WEIGHT = 0.7
RESULTS_MAX = 1000  # a search ranks at most this many results (200 pages of 5): counts stop there too


def query_terms(query: str, *, limit: int = 32) -> list[str]:
    """The distinct searchable words of ``query``, lower-cased, without stop words (kept if only those)."""
    words = [w.lower() for w in _WORD.findall(query)]
    terms = [w for w in words if w not in STOPWORDS] or words
    return list(dict.fromkeys(terms))[:limit]


SCORE_TIE = 1e-6  # relative score differences below this are rounding noise (equal texts, equal vectors)


def _min_max(scored: Sequence[tuple[K, float]]) -> dict[K, float]:
    """Scores rescaled to [0, 1]; all 1.0 when they only differ by rounding noise (which rescaling would
    blow up into a full-range difference). The tolerance is relative: BM25 scores can be tiny."""
    if not scored:
        return {}
    low = min(s for _, s in scored)
    high = max(s for _, s in scored)
    span = high - low
    if span <= SCORE_TIE * max(abs(high), abs(low)):
        return {key: 1.0 for key, _ in scored}
    return {key: (s - low) / span for key, s in scored}


def fuse_convex(
    text: Sequence[tuple[K, float]], vector: Sequence[tuple[K, float]], *, text_weight: float = TEXT_WEIGHT
) -> dict[K, float]:
    """Hybrid score: ``w * bm25 + (1 - w) * cosine``, each min-max normalised over its candidate list.

    Chosen by measurement over reciprocal rank fusion: on LoCoMo (1,982 questions, MiniLM embeddings)
    evidence recall@10 was BM25 58.2, vector 38.3, RRF(k=60) 49.9, RRF weighted 2:1 with k=10 59.9,
    and this convex fusion 60.7 at w=0.7 (58.8 at 0.5). A candidate missing from one list gets 0 there.
    """
    scores: dict[K, float] = {}
    for weight, normalised in ((text_weight, _min_max(text)), (1 - text_weight, _min_max(vector))):
        for key, value in normalised.items():
            scores[key] = scores.get(key, 0.0) + weight * value
    return scores


_IDENTIFIER = re.compile(r"[\w][\w.:/@-]{5,}[\w]", re.UNICODE)


def exact_match_bonus(query: str, text: str) -> float:
    """A bonus that lifts verbatim matches (ids, names, numbers) above the fused scores.

    Fused scores lie in [0, 1]; a text containing the whole query, or the query's
    identifier-like tokens (long tokens with a digit, such as UUIDs), gets 1.0 (whole query) or up to
    0.5 (share of such tokens), so exact-text lookups such as the nested key-value task find their passage.
    """
    needle = " ".join(query.lower().split())
    haystack = text.lower()
    if len(needle) >= 3 and needle in " ".join(haystack.split()):
        return 1.0
    identifiers = [t for t in _IDENTIFIER.findall(needle) if any(c.isdigit() for c in t)]
    if not identifiers:
        return 0.0
    return 0.5 * sum(t in haystack for t in identifiers) / len(identifiers)


# ---------------------------------------------------------------------------------------------------
# Conversation-aware adjustments of recall (message) search, measured on LoCoMo (1,982 questions,
# evidence recall_all@10, see ``memgpt eval locomo --retrieval``): fused BM25 + cosine alone 61.8;
# + relevance carried from a matching question to its reply 70.0; + questions ranked below statements
# 70.8; + dates named in the query 72.2; + half the best score of the same session 74.4; + the length
# bonus and the named-sender boost 76.3 (LoCoMo's own fractional recall@10: 79.2 -> 81.1; better in each
# of the 10 conversations). All measured offline over the same candidates; session boost 0.3 / 0.5 /
# 0.8: 73.9 / 74.4 / 74.2; length weight 0.05 / 0.1 / 0.2 alone: 75.0 / 75.1 / 75.2; the length term
# also as a penalty below 80 characters: within 0.1, but it can sink a weak match below a non-match.

Period = tuple[datetime, datetime]

REPLY_CARRY = 0.8
QUESTION_PENALTY = 0.3
DATE_BOOST = 0.4
DATE_GRACE = timedelta(days=7)
SESSION_BOOST = 0.5
# A session ends at a pause: agent replies come within seconds and a user in a conversation answers within
# minutes, while the next conversation can begin ten minutes after the last one ended. LoCoMo cannot tell
# thresholds apart (turns 30 s apart, sessions at least 28 h apart): every figure of ``memgpt eval locomo
# --retrieval`` was the same at 5 and 30 minutes as with the one-hour window this replaced (recall_all@10
# 76.3). Where messages carry an explicit id (SESSION_KEYS in their metadata), a change of id also ends one.
SESSION_GAP = timedelta(minutes=5)
SESSION_LOOK_MAX = timedelta(hours=1)  # candidates further apart are in different sessions, unread
SESSION_KEYS = ("session_id", "conversation_id")
LENGTH_WEIGHT = 0.15
LENGTH_REFERENCE = 80  # characters: a typical chat turn
SENDER_BOOST = 0.15


def carry_to_replies(
    scores: Mapping[K, float], text_of: Callable[[K], str], reply_of: Mapping[K, K | None]
) -> dict[K, float]:
    """Give the message that follows a matching question part of that question's score.

    In a conversation the answer to "what did you take away from the book?" is the next message, whose
    own words rarely match the query; the question's do. ``reply_of`` maps a candidate to the next
    searchable message of the same conversation (or None).
    """
    carried = dict(scores)
    for key, score in scores.items():
        reply = reply_of.get(key)
        if reply is not None and "?" in text_of(key):
            carried[reply] = carried.get(reply, 0.0) + REPLY_CARRY * score
    return carried


def conversation_score(
    score: float,
    text: str,
    created_at: datetime,
    periods: Sequence[Period],
    *,
    sender_named: bool = False,
    from_user: bool = True,
) -> float:
    """A fused score adjusted for what recall search is for: statements over questions, substantial
    user messages over short ones, dates the query names, and messages from a sender the query names.

    The length prior applies to user messages only: it was measured on conversations between people,
    and the agent's own messages (inner monologue plus reply) are long whatever they hold.
    """
    if text.rstrip().endswith("?"):
        score *= 1 - QUESTION_PENALTY
    if from_user:
        score += LENGTH_WEIGHT * length_prior(text)
    if any(start <= created_at < end for start, end in periods):
        score += DATE_BOOST
    if sender_named:
        score += SENDER_BOOST
    return score


def length_prior(text: str) -> float:
    """``log(len / 80)`` clipped to [0, 2]: a substantial message is more likely to hold what a search is
    after than "Thanks, you too!". Only a bonus: a weak match must not fall below a message that does
    not match at all (a penalty for short messages measured no better on LoCoMo)."""
    return max(0.0, min(2.0, math.log(max(len(text), 1) / LENGTH_REFERENCE)))


def names_mentioned(query: str, names: Iterable[str | None]) -> set[str]:
    """The names among ``names`` that ``query`` mentions as whole words ("what did Caroline paint?",
    "what did Mary Ann say?"). A one-word name that is a stop word ("Will") never counts."""
    words = f" {' '.join(w.lower() for w in _WORD.findall(query))} "
    mentioned: set[str] = set()
    for name in names:
        parts = [w.lower() for w in _WORD.findall(name or "")]
        if name and not (len(parts) == 1 and parts[0] in STOPWORDS) and f" {' '.join(parts)} " in words:
            mentioned.add(name)
    return mentioned


def boost_sessions(scores: Mapping[K, float], session_of: Callable[[K], Hashable]) -> dict[K, float]:
    """Add to each message part of the best score among the messages of its session.

    A conversation's sessions are topical: a message of the same session as a strong match is likely on the
    same subject (the evidence for "what did she say about the adoption agency?" is a few turns long).
    ``session_of`` labels each message's session (see :func:`session_labels`).
    """
    best: dict[Hashable, float] = {}
    for key, score in scores.items():
        label = session_of(key)
        best[label] = max(score, best.get(label, score))
    return {key: score + SESSION_BOOST * best[session_of(key)] for key, score in scores.items()}


def explicit_session(metadata: Mapping[str, object]) -> str | None:
    """The session or conversation id a message carries in its metadata (imported histories often do)."""
    for name in SESSION_KEYS:
        value = metadata.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def needs_timeline(earlier: datetime, later: datetime) -> bool:
    """Whether two messages, consecutive among the candidates, can only be told to share a session by the
    messages between them: closer than :data:`SESSION_GAP` they do; further apart than
    :data:`SESSION_LOOK_MAX` they are taken not to."""
    return SESSION_GAP < later - earlier <= SESSION_LOOK_MAX


def session_labels(
    order: Sequence[K],
    time_of: Callable[[K], datetime],
    explicit_of: Callable[[K], str | None],
    between: Callable[[K, K], Sequence[datetime] | None],
) -> dict[K, int]:
    """Number the sessions of messages ``order``-ed by time: a new session starts at a message whose
    explicit session id differs from the one its session carries so far, or after a pause longer than
    :data:`SESSION_GAP`.

    ``between(a, b)`` gives the times of the stored messages from ``a`` to ``b`` (for the pairs
    :func:`needs_timeline` names; None if unknown, taken as no pause): consecutive candidates are rarely
    consecutive messages, so their own gap says little.
    """
    labels: dict[K, int] = {}
    session, session_id = -1, None
    previous: K | None = None
    for key in order:
        explicit = explicit_of(key)
        changed = explicit is not None and session_id is not None and explicit != session_id
        if previous is None or changed or _paused(previous, key, time_of, between):
            session, session_id = session + 1, None
        session_id = explicit if explicit is not None else session_id
        labels[key] = session
        previous = key
    return labels


def _paused(
    previous: K, key: K, time_of: Callable[[K], datetime], between: Callable[[K, K], Sequence[datetime] | None]
) -> bool:
    """Whether the conversation paused for longer than :data:`SESSION_GAP` between two messages."""
    earlier, later = time_of(previous), time_of(key)
    if later - earlier <= SESSION_GAP:
        return False
    if later - earlier > SESSION_LOOK_MAX:
        return True
    times = between(previous, key)
    if times is None:
        return False
    stops = sorted([earlier, *(t for t in times if earlier <= t <= later), later])
    return any(b - a > SESSION_GAP for a, b in pairwise(stops))


_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH = "|".join(_MONTHS)
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH}),?\s+(\d{{4}})\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"\b({_MONTH}),?\s+(\d{{4}})\b", re.IGNORECASE)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")


def query_periods(query: str) -> list[Period]:
    """The time spans a query names ("on 1 May, 2023", "in May 2023", "2022-05-01", "in 2022").

    Each span is widened by :data:`DATE_GRACE` after its end, because people tell of events some days
    after they happen. The most specific form found wins: days, else months, else years.
    """
    days = [(int(y), _month(m), int(d)) for d, m, y in _DAY_MONTH_YEAR.findall(query)]
    days += [(int(y), _month(m), int(d)) for m, d, y in _MONTH_DAY_YEAR.findall(query)]
    days += [(int(y), int(m), int(d)) for y, m, d in _ISO_DATE.findall(query)]
    spans = [span for y, m, d in days if (span := _day_span(y, m, d)) is not None]
    if not spans:
        spans = [_month_span(int(y), _month(m)) for m, y in _MONTH_YEAR.findall(query)]
    if not spans:
        spans = [
            (datetime(int(y), 1, 1, tzinfo=UTC), datetime(int(y) + 1, 1, 1, tzinfo=UTC)) for y in _YEAR.findall(query)
        ]
    return [(start, end + DATE_GRACE) for start, end in spans]


def _month(name: str) -> int:
    return _MONTHS.index(name.lower()) + 1


def _day_span(year: int, month: int, day: int) -> Period | None:
    try:
        start = datetime(year, month, day, tzinfo=UTC)
    except ValueError:  # "31 February": not a date, so no span
        return None
    return start, start + timedelta(days=1)


def _month_span(year: int, month: int) -> Period:
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if month == 12 else datetime(year, month + 1, 1, tzinfo=UTC)
    return datetime(year, month, 1, tzinfo=UTC), end
