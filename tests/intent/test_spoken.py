"""A streamed reply as it is spoken: pieces as they complete, ended on a whole sentence at a cap."""

from nexus_wyoming.intent.spoken import SpokenReply, first_piece_ready
from tests.fakes.openai_sse import tokens_of


def speak(reply: SpokenReply, text: str) -> list[str]:
    said = []
    for token in tokens_of(text):
        said += reply.add(token)
        if reply.full:
            return said
    return said + reply.finish()


def test_without_caps_everything_is_spoken_the_first_piece_early():
    reply = SpokenReply()
    said = speak(reply, "Well, the short answer is that it depends on where you live and the season. Yes.")
    assert said == ["Well, the short answer is that it depends on where you live",
                    "and the season.", "Yes."] and not reply.full


def test_the_token_cap_ends_on_the_last_whole_sentence():
    reply = SpokenReply(max_tokens=7)
    assert speak(reply, "One two three. Four five six seven eight.") == ["One two three."]
    assert reply.full and reply.text == "One two three." and reply.finish() == []


def test_the_character_cap_ends_on_the_last_whole_sentence_within_it():
    reply = SpokenReply(max_chars=30)
    assert speak(reply, "First sentence here. Second sentence is long. Third.") == ["First sentence here."]
    assert reply.full and reply.add(" More.") == []


def test_a_first_sentence_alone_over_the_cap_is_cut_at_a_word():
    reply = SpokenReply(max_chars=20)
    assert reply.add("A single sentence that is far longer than the cap. ") == ["A single sentence"]
    assert reply.full


def test_the_chains_gate_opens_with_the_first_speakable_piece():
    assert not first_piece_ready("Groq would have")
    assert first_piece_ready("Yes. And")
    assert first_piece_ready("Well, the short answer is that it depends on where you live and")
