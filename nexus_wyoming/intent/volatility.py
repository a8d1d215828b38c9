"""Whether asking again may rightly get another answer: a question that asks for variety
(jokes, stories, "something random") or that depends on when it is asked ("today",
"how many days until", "how old").

The response cache replays only answers to questions that are neither, and their prompt
leaves the date and time out, so a replayed answer cannot have used the clock. The test is
on words and deliberately broad: a timeless question taken for a volatile one only costs a
cache miss, the opposite would replay a stale or repeated answer.
"""

from typing import Optional

from .search.classifier import words_of

VARIED = "varied"
TIME = "time"

#: Words of a request for something new each time.
VARIED_WORDS = frozenset("""
    joke jokes pun riddle funny laugh humor humour silly random randomly surprise another else different
    again interesting story tale poem poetry haiku limerick rhyme song sing lyric fact facts trivia quiz
    game play idea ideas suggest suggestion recommend recommendation pick choose flip coin roll dice die
    shuffle guess imagine invent creative compliment quote motivate motivation inspire inspiration
""".split())

#: Words of a question whose answer depends on the date or time it is asked.
TIME_WORDS = frozenset("""
    now today tonight tomorrow yesterday currently current latest recent recently still anymore yet
    time clock date day days daily week weeks weekly weekend month months monthly year years yearly
    hour hours minute minutes seconds morning afternoon evening night noon midnight
    ago since until till til left remaining next last upcoming soon later earlier early late
    age old older young born birthday anniversary countdown deadline schedule calendar
    season spring summer autumn fall winter holiday holidays christmas easter halloween thanksgiving
    monday tuesday wednesday thursday friday saturday sunday
    january february march april june july august september october november december
    open opened closed closing alive dead died elapsed lately nowadays modern
""".split())


def volatility(text: str) -> Optional[str]:
    """VARIED or TIME when an answer to `text` may differ when asked again, else None (timeless)."""
    words = words_of(text)
    if not VARIED_WORDS.isdisjoint(words):
        return VARIED
    if not TIME_WORDS.isdisjoint(words):
        return TIME
    return None
