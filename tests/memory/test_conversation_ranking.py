"""Conversation-aware adjustments of recall search: replies, statements, length, dates, senders, sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from memgpt.memory.search import (
    boost_sessions,
    carry_to_replies,
    conversation_score,
    explicit_session,
    length_prior,
    names_mentioned,
    query_periods,
    session_labels,
)


def test_a_reply_inherits_relevance_from_the_question_it_answers() -> None:
    texts = {1: "What did you take away from the book?", 2: "It taught me self-acceptance.", 3: "Nice weather."}
    scores = {1: 0.9, 3: 0.5}
    carried = carry_to_replies(scores, texts.__getitem__, {1: 2, 3: None})
    assert carried[2] > carried[3]  # the answer now outranks an unrelated candidate
    assert carried[1] == 0.9


def test_statements_do_not_pass_their_score_on() -> None:
    texts = {1: "I read a book about trees.", 2: "Cool."}
    assert carry_to_replies({1: 0.9}, texts.__getitem__, {1: 2}) == {1: 0.9}


def test_questions_rank_below_equally_scored_statements() -> None:
    when = datetime(2023, 5, 1, tzinfo=UTC)
    assert conversation_score(1.0, "Which book did you read?", when, []) < conversation_score(
        1.0, "I read Becoming Nicole.", when, []
    )


def test_dates_named_in_a_query_favour_messages_from_then() -> None:
    periods = query_periods("What did Joanna watch on 1 May, 2022?")
    in_period = conversation_score(0.5, "watched a film", datetime(2022, 5, 2, tzinfo=UTC), periods)
    before = conversation_score(0.5, "watched a film", datetime(2022, 4, 20, tzinfo=UTC), periods)
    assert in_period > before


def test_query_periods_take_the_most_specific_form_and_ignore_impossible_dates() -> None:
    (start, end) = query_periods("on May 1, 2022 or in 2021")[0]
    assert start == datetime(2022, 5, 1, tzinfo=UTC) and end.date().isoformat() == "2022-05-09"
    assert query_periods("in May 2023")[0][0] == datetime(2023, 5, 1, tzinfo=UTC)
    assert query_periods("2023-12-31")[0][0] == datetime(2023, 12, 31, tzinfo=UTC)
    assert query_periods("in 2022")[0][0] == datetime(2022, 1, 1, tzinfo=UTC)
    assert query_periods("31 February 2023")[0][0] == datetime(2023, 2, 1, tzinfo=UTC)  # falls back to the month
    assert query_periods("what is my sister called?") == []


def test_messages_of_a_strong_match_s_session_rise_above_weak_matches_of_other_sessions() -> None:
    session = {"match": 1, "same session": 1, "other session": 2, "next day": 3}
    scores = {"match": 1.0, "same session": 0.2, "other session": 0.3, "next day": 0.25}
    boosted = boost_sessions(scores, session.__getitem__)
    assert boosted["same session"] > boosted["other session"] > boosted["next day"]
    assert boosted["match"] > boosted["same session"]
    assert boosted["other session"] == 0.3 * 1.5  # alone in its session: half its own score added
    assert boost_sessions({}, session.__getitem__) == {}


def _labels(times: dict[str, datetime], stored: list[datetime], explicit: dict[str, str] | None = None) -> list[int]:
    order = sorted(times, key=times.__getitem__)
    return list(
        session_labels(
            order,
            times.__getitem__,
            (explicit or {}).get,
            lambda a, b: [t for t in stored if times[a] <= t <= times[b]],
        ).values()
    )


def test_a_pause_between_consecutive_messages_ends_a_session_not_the_distance_between_matches() -> None:
    start = datetime(2023, 5, 1, 14, 0, tzinfo=UTC)
    minute = timedelta(minutes=1)
    # one conversation ends at 14:20, the next begins ten minutes later: two sessions, though within the hour
    stored = [start + i * minute for i in range(21)] + [start + (30 + i) * minute for i in range(20)]
    matches = {"early": start + 2 * minute, "late in the first": start + 19 * minute, "second": start + 35 * minute}
    assert _labels(matches, stored) == [0, 0, 1]
    # forty minutes apart but talking all along (a message every minute): one session
    busy = [start + i * minute for i in range(60)]
    assert _labels({"a": start, "b": start + 40 * minute}, busy) == [0, 0]
    # matches a few minutes apart share a session without reading what lies between
    assert session_labels(["a", "b"], {"a": start, "b": start + 4 * minute}.__getitem__, {}.get, lambda a, b: None)
    assert _labels({"a": start, "b": start + 3 * timedelta(hours=1)}, busy) == [0, 1]  # too far apart to read


def test_an_explicit_session_id_separates_what_time_alone_would_join() -> None:
    start = datetime(2023, 5, 1, 14, 0, tzinfo=UTC)
    times = {"a": start, "b": start + timedelta(minutes=1), "c": start + timedelta(minutes=2)}
    assert _labels(times, list(times.values()), {"a": "chat-1", "b": "chat-1", "c": "chat-2"}) == [0, 0, 1]
    assert _labels(times, list(times.values()), {"a": "chat-1", "c": "chat-2"}) == [0, 0, 1]  # b: no id, time joins
    assert explicit_session({"session_id": "s1"}) == "s1" and explicit_session({"conversation_id": 7}) == "7"
    assert explicit_session({"session_id": ""}) is None and explicit_session({"session_id": True}) is None


def test_substantial_messages_outrank_short_acknowledgements_of_equal_relevance() -> None:
    when = datetime(2023, 5, 1, tzinfo=UTC)
    short = conversation_score(0.5, "Me: Wow, cool!", when, [])
    substantial = conversation_score(
        0.5, "Me: We went camping at the lake last weekend and the kids loved roasting marshmallows.", when, []
    )
    assert substantial > short
    assert length_prior("") == 0.0 and length_prior("x" * 100_000) == 2.0  # a bounded bonus, never a penalty
    # the agent's own messages are long whatever they hold: no prior for them
    assert conversation_score(0.5, "Me: Wow, cool!", when, [], from_user=False) == 0.5


def test_a_sender_named_in_the_query_favours_their_messages() -> None:
    assert names_mentioned("What did Caroline paint last May?", {"Caroline", "Melanie", None}) == {"Caroline"}
    assert names_mentioned("the annual report", {"Ann"}) == set()  # whole words only
    assert names_mentioned("what did CAROLINE say", {"Caroline"}) == {"Caroline"}
    assert names_mentioned("what did Mary Ann and O'Brien say?", {"Mary Ann", "O'Brien", "Ann Lee"}) == {
        "Mary Ann",
        "O'Brien",
    }
    assert names_mentioned("what will I do tomorrow?", {"Will"}) == set()  # a stop word is not a name here
    when = datetime(2023, 5, 1, tzinfo=UTC)
    text = "I painted a sunset over the lake."
    assert conversation_score(0.5, text, when, [], sender_named=True) > conversation_score(0.5, text, when, [])
