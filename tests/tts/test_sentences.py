"""Tests for the smart sentence buffer: the rules, streaming equivalence, forced breaks, flush."""

import random
import time

import pytest

from nexus_wyoming.tts.sentences import SentenceBuffer, split_sentences

CASES = [
    # Plain terminators and runs of them.
    ("Hello world. How are you? Fine!", ["Hello world.", "How are you?", "Fine!"]),
    ("Really?! Yes.", ["Really?!", "Yes."]),
    ("Wait... What now?", ["Wait...", "What now?"]),
    ("Well… maybe.", ["Well…", "maybe."]),
    ("Stop!!! Please.", ["Stop!!!", "Please."]),
    ("No terminator at all", ["No terminator at all"]),
    ("Ends with a terminator.", ["Ends with a terminator."]),
    ("  Leading and trailing space.   ", ["Leading and trailing space."]),
    ("", []),
    ("   \n\t ", []),
    ("One.Two. Three", ["One.Two.", "Three"]),
    # Closing quotes and brackets stay with their sentence.
    ('He said "Hi." Then he left.', ['He said "Hi."', "Then he left."]),
    ("It worked (finally!) Then it broke.", ["It worked (finally!)", "Then it broke."]),
    ("“Go.” She went.", ["“Go.”", "She went."]),
    ("Done.') Next.", ["Done.')", "Next."]),
    # Abbreviations that never end a sentence.
    ("Mr. Smith met Mrs. Jones. They talked.", ["Mr. Smith met Mrs. Jones.", "They talked."]),
    ("Ask Dr. Who and Prof. X now.", ["Ask Dr. Who and Prof. X now."]),
    ("Go to St. Louis via Mt. Hood. Then rest.", ["Go to St. Louis via Mt. Hood.", "Then rest."]),
    ("Cats vs. dogs is approx. even.", ["Cats vs. dogs is approx. even."]),
    ("MR. BIG arrived. DR. NO left.", ["MR. BIG arrived.", "DR. NO left."]),
    ("Fruit, e.g. apples, i.e. food. Yes.", ["Fruit, e.g. apples, i.e. food.", "Yes."]),
    ("The U.S. Army and the U.K. Navy met. Ok.", ["The U.S. Army and the U.K. Navy met.", "Ok."]),
    ("Made in the U.S.A. by hand.", ["Made in the U.S.A. by hand."]),
    # Initials.
    ("J. R. R. Tolkien wrote it. Read it.", ["J. R. R. Tolkien wrote it.", "Read it."]),
    ("Ask John F. Kennedy. He knows.", ["Ask John F. Kennedy.", "He knows."]),
    ("By J.R.R. Tolkien, of course.", ["By J.R.R. Tolkien, of course."]),
    # Abbreviations that usually close a sentence: an end only before a capitalised word.
    ("Apples, pears, etc. Then we left.", ["Apples, pears, etc.", "Then we left."]),
    ("Apples, pears, etc. and more.", ["Apples, pears, etc. and more."]),
    ("We bought apples, pears, etc.", ["We bought apples, pears, etc."]),
    ("Apples etc. 5 of them.", ["Apples etc. 5 of them."]),
    ("I work at Acme Inc. It is fine.", ["I work at Acme Inc.", "It is fine."]),
    ("Acme Inc. announced it. Ok.", ["Acme Inc. announced it.", "Ok."]),
    ("Martin Luther King Jr. was born in 1929.", ["Martin Luther King Jr. was born in 1929."]),
    ("We met at 5 p.m. Then we ate.", ["We met at 5 p.m.", "Then we ate."]),
    ("At 9 a.m. sharp we start.", ["At 9 a.m. sharp we start."]),
    ("Buy from Smith & Co. today. Ok.", ["Buy from Smith & Co. today.", "Ok."]),
    # Abbreviations before numbers: an end unless a digit follows.
    ("See No. 5 and Vol. 2 today.", ["See No. 5 and Vol. 2 today."]),
    ("No. I will not.", ["No.", "I will not."]),
    ("It was Jan. 3 already. Cold.", ["It was Jan. 3 already.", "Cold."]),
    ("I said no. Then I left.", ["I said no.", "Then I left."]),
    # Numbers and versions.
    ("Pi is 3.14 roughly. Ok.", ["Pi is 3.14 roughly.", "Ok."]),
    ("Use v1.2.3 or 10.0.1. Then restart.", ["Use v1.2.3 or 10.0.1.", "Then restart."]),
    ("It costs $4.99. Cheap.", ["It costs $4.99.", "Cheap."]),
    ("We have 3. They have 4.", ["We have 3.", "They have 4."]),
    # URLs, e-mail addresses, paths.
    ("See http://x.com/a.b for more. Thanks.", ["See http://x.com/a.b for more.", "Thanks."]),
    ("Visit www.example.com. Or not.", ["Visit www.example.com.", "Or not."]),
    ("Open https://x.org/q?a=1&b=2.3 now! Go.", ["Open https://x.org/q?a=1&b=2.3 now!", "Go."]),
    ("Mail a.b@c.org today. Bye.", ["Mail a.b@c.org today.", "Bye."]),
    ("Edit /usr/lib/x.py and C:\\dir\\f.txt first. Done.", ["Edit /usr/lib/x.py and C:\\dir\\f.txt first.", "Done."]),
    ("Run ./run.sh now. Then wait.", ["Run ./run.sh now.", "Then wait."]),
    ("Run it with ../bin/x.sh. Then stop.", ["Run it with ../bin/x.sh.", "Then stop."]),
    # Newlines: a blank line is a paragraph break, a single newline is not.
    ("First line\nsame sentence. Next.", ["First line\nsame sentence.", "Next."]),
    ("Title\n\nBody text here", ["Title", "Body text here"]),
    ("Title\n  \t\nBody", ["Title", "Body"]),
    ("Windows\r\n\r\nlines", ["Windows", "lines"]),
    ("End.\n\nStart", ["End.", "Start"]),
    # List numbers at the start of a line are not sentences of their own.
    ("1. Preheat the oven.\n2. Mix the flour.", ["1. Preheat the oven.", "2. Mix the flour."]),
    ("Steps:\n1. Open it. 2. Close it.", ["Steps:\n1. Open it.", "2. Close it."]),
    ("Chapter 2. The end.", ["Chapter 2.", "The end."]),
]


def test_table_is_big_enough() -> None:
    """The brief asks for at least 40 table cases."""
    assert len(CASES) >= 40


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_split_sentences(text: str, expected: list[str]) -> None:
    """Each rule, on a whole text."""
    assert split_sentences(text) == expected


def _stream(chunks: list[str], max_chars: int = 2000) -> list[str]:
    """Feed chunks through one buffer and collect everything it hands out."""
    buffer = SentenceBuffer(max_chars)
    sentences = []
    for chunk in chunks:
        sentences.extend(buffer.add(chunk))
    return sentences + buffer.flush()


def _random_chunks(text: str, rng: random.Random, most: int = 12) -> list[str]:
    """Cut text into random-size chunks (some empty)."""
    chunks, pos = [], 0
    while pos < len(text):
        size = rng.randint(0, most)
        chunks.append(text[pos : pos + size])
        pos += size
    return chunks


def _words(text: str) -> list[str]:
    """Word-by-word chunks that keep their whitespace, like LLM tokens."""
    chunks, word = [], ""
    for char in text:
        if char.isspace() and word and not word[-1].isspace():
            chunks.append(word)
            word = ""
        word += char
    return chunks + [word]


ALL_TEXT = " ".join(text for text, _ in CASES)


@pytest.mark.parametrize(("text", "expected"), CASES + [(ALL_TEXT, split_sentences(ALL_TEXT))])
@pytest.mark.parametrize("chunking", ["chars", "words", "random"])
def test_streaming_matches_whole_text(text: str, expected: list[str], chunking: str) -> None:
    """However the text is chunked, the sentences are those of the whole text."""
    if chunking == "chars":
        chunks = list(text)
    elif chunking == "words":
        chunks = _words(text)
    else:
        chunks = _random_chunks(text, random.Random(1234))
    assert "".join(chunks) == text
    assert _stream(chunks) == expected


FUZZ_PIECES = [
    "Mr.", "etc.", "No.", "J.", "U.S.", "3.", "14", "v1.2", "a.m.", "Inc.", "www.x.com", "?!", "...", "…",
    ".", "!", "?", '"', ")", "\n", "\n\n", " ", "  ", "word", "Word", "1.", "5", "x.py", "Yes.", "no",
]


@pytest.mark.parametrize("max_chars", [2000, 40, 7, 1])
@pytest.mark.parametrize("seed", range(20))
def test_streaming_matches_whole_text_on_fuzzed_input(seed: int, max_chars: int) -> None:
    """Random mixes of the tricky pieces, random chunking, small limits: streaming still equals whole text."""
    rng = random.Random(seed)
    text = "".join(rng.choice(FUZZ_PIECES) + rng.choice(["", " "]) for _ in range(300))
    whole = split_sentences(text, max_chars)
    assert _stream(_random_chunks(text, rng, most=30), max_chars) == whole
    assert _stream(list(text), max_chars) == whole
    assert all(sentence and sentence == sentence.strip() for sentence in whole)
    assert all(len(sentence) <= max_chars for sentence in whole)
    assert "".join("".join(whole).split()) == "".join(text.split())  # nothing lost, nothing repeated


@pytest.mark.parametrize(
    ("chunks", "returned"),
    [
        (["3.", "14 is pi. "], [[], ["3.14 is pi."]]),  # a final "." may continue as a number
        (["Hi.", " ", "There"], [[], ["Hi."], []]),  # whitespace after it settles the end
        (["Hi!", '"', " Yes"], [[], [], ['Hi!"']]),  # a closing quote may follow the terminator
        (["Fruit etc. ", "Then"], [[], ["Fruit etc."]]),  # "etc." needs the next word
        (["Fruit etc. ", "and more."], [[], []]),
        (["See No. ", "5 now. "], [[], ["See No. 5 now."]]),
        (["Title\n", "\nBody"], [[], ["Title"]]),  # a blank line needs its second newline
        (["Title\n", "Body. "], [[], ["Title\nBody."]]),
        (["One. Two. Thr", "ee"], [["One.", "Two."], []]),
    ],
)
def test_add_waits_only_as_long_as_needed(chunks: list[str], returned: list[list[str]]) -> None:
    """add() hands out a sentence once it is certain, and not before."""
    buffer = SentenceBuffer()
    assert [buffer.add(chunk) for chunk in chunks] == returned


def test_flush_returns_rest_and_resets() -> None:
    """flush() ends the text: what is left comes out, the buffer starts afresh."""
    buffer = SentenceBuffer()
    assert buffer.add("First. Second") == ["First."]
    assert buffer.flush() == ["Second"]
    assert buffer.flush() == []
    assert buffer.add("Mr. ") == []
    assert buffer.flush() == ["Mr."]
    assert buffer.add("Third. ") == ["Third."]
    assert buffer.flush() == []


def test_flush_settles_pending_decisions() -> None:
    """At the end of text, a terminator waiting for its next character ends the sentence."""
    for text, expected in [("Pi is 3.", ["Pi is 3."]), ("We met at 5 p.m. ", ["We met at 5 p.m."]), ("A\n", ["A"])]:
        buffer = SentenceBuffer()
        assert buffer.add(text) == []
        assert buffer.flush() == expected


def test_flush_of_many_sentences() -> None:
    """flush() splits the rest into sentences, not one blob."""
    buffer = SentenceBuffer()
    assert buffer.add("We met at 5 p.m. Then etc. ") == ["We met at 5 p.m."]
    assert buffer.flush() == ["Then etc."]


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        ("aaa bbb ccc ddd", 7, ["aaa bbb", "ccc ddd"]),  # cut at the last space within the limit
        ("aaa bbb ccc ddd", 8, ["aaa bbb", "ccc ddd"]),
        ("aaa bbb ccc ddd", 10, ["aaa bbb", "ccc ddd"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),  # no space: hard cut
        ("ab cdefghijkl", 5, ["ab", "cdefg", "hijkl"]),
        ("Short. aaa bbb ccc", 7, ["Short.", "aaa bbb", "ccc"]),  # a real end within the limit wins
        ("aaaa.bbbb. Next", 9, ["aaaa.bbbb", ".", "Next"]),  # an end one past the limit is too late
        ("Etc. \n\n" + " " * 50 + "x", 10, ["Etc.", "x"]),
        ("word " * 5 + "x", 2000, ["word word word word word x"]),
    ],
)
def test_forced_break(text: str, max_chars: int, expected: list[str]) -> None:
    """Without a sentence end in time, the text is cut so no sentence exceeds max_chars."""
    assert split_sentences(text, max_chars) == expected
    assert _stream(list(text), max_chars) == expected


def test_forced_break_bounds_memory() -> None:
    """Endless text without an end never makes the pending text grow past the limit plus one chunk."""
    buffer = SentenceBuffer(max_chars=100)
    rng = random.Random(7)
    for _ in range(2000):
        chunk = rng.choice(["word ", "x" * 13, "etc. ", "  ", "3.", "\n"])
        for sentence in buffer.add(chunk):
            assert 0 < len(sentence) <= 100
        assert len(buffer._pending) <= 100 + len(chunk)


def test_long_stream_is_linear() -> None:
    """Streaming 200 kB a character at a time stays fast (no rescanning of the pending text)."""
    text = ("lorem ipsum dolor sit amet consectetur " * 40 + "end. ") * 125
    buffer = SentenceBuffer()
    started = time.perf_counter()
    count = sum(len(buffer.add(char)) for char in text) + len(buffer.flush())
    assert count == len(split_sentences(text))
    assert time.perf_counter() - started < 5


def test_invalid_max_chars() -> None:
    """A limit below one character is a configuration error."""
    with pytest.raises(ValueError):
        SentenceBuffer(0)


# ------------------------------------------------------------ take_opening

@pytest.mark.parametrize(
    "pending, opening, rest",
    [
        ("Well, I think the kitchen lights are on, but", "Well, I think the kitchen lights are on,", "but"),
        ("The weather today is sunny with a high of 72 degrees, and", "The weather today is sunny with a high of 72 degrees,", "and"),
        ("The weather today is sunny with a high of", None, None),  # 41 chars, no clause: wait
        ("alpha bravo charlie delta echo foxtrot golf hotel india juliet", "alpha bravo charlie delta echo foxtrot golf", "hotel india juliet"),
        ("Oh, yes", None, None),  # clause shorter than min_chars
        ("It costs 1,000 dollars and more", None, None),  # no space after the comma: not a clause
        ("Yes; the lights, however, stay", "Yes; the lights,", "however, stay"),
        ("", None, None),
        ("x" * 100, None, None),  # no word break: nothing to cut safely
    ],
)
def test_take_opening(pending, opening, rest):
    buffer = SentenceBuffer()
    assert buffer.add(pending) == []
    assert buffer.take_opening(12, 48) == opening
    remaining = buffer.flush()
    if opening is None:
        assert remaining == ([pending.strip()] if pending.strip() else [])
    else:
        assert remaining == [rest]


def test_take_opening_keeps_sentence_detection_going():
    buffer = SentenceBuffer()
    buffer.add("Well, the lights in the hall are on, ")
    assert buffer.take_opening(12, 48) == "Well, the lights in the hall are on,"
    assert buffer.add("Mr. Smith said so. And") == ["Mr. Smith said so."]
    assert buffer.flush() == ["And"]
