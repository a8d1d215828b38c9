"""Assist pipelines through a real HA: our STT, our agent or HA's, our TTS; audio in at
real-time pace, a TTS URL out whose audio our STT hears as the answer."""

import pytest

from tests.ha.assist import create_pipeline, fetch_tts, run_audio, similar, transcribe, words
from tests.ha.lights import kitchen_lights, set_kitchen_lights


async def heard_back(home_assistant, nexus, run) -> str:
    return await transcribe(nexus.stt.host, nexus.stt.port, fetch_tts(home_assistant, run.tts_url))


async def test_our_stt_our_agent_our_tts(ws, home_assistant, nexus, speaker):
    pipeline = await create_pipeline(ws, "Nexus", nexus.entities["stt"], nexus.entities["intent"],
                                     nexus.entities["tts"])
    run = await run_audio(ws, pipeline, speaker.say("How are you?"))
    assert "error" not in run.types, run.events
    assert run.types[-1] == "run-end" and "stt-vad-end" in run.types
    assert words(run.transcript) == ["how", "are", "you"]
    assert run.answer == "I'm doing well, thanks for asking. How can I help?"
    assert similar(run.answer, await heard_back(home_assistant, nexus, run)) >= 0.8


async def test_offline_who_wrote_hamlet_is_answered_by_the_embedded_model_and_spoken(ws, home_assistant, nexus,
                                                                                       speaker):
    """No keys, no network: a question no skill knows reaches our embedded LLM through HA's
    pipeline, and our TTS speaks the answer."""
    pipeline = await create_pipeline(ws, "Nexus offline", nexus.entities["stt"], nexus.entities["intent"],
                                     nexus.entities["tts"])
    run = await run_audio(ws, pipeline, speaker.say("Who wrote Hamlet?"))
    assert "error" not in run.types, run.events
    assert words(run.transcript) == ["who", "wrote", "hamlet"]
    assert "shakespeare" in run.answer.lower(), run.answer
    assert similar(run.answer, await heard_back(home_assistant, nexus, run)) >= 0.7


async def test_our_stt_home_assistants_agent_our_tts(ws, home_assistant, nexus, speaker):
    set_kitchen_lights(home_assistant, "on")
    pipeline = await create_pipeline(ws, "Nexus with HA's agent", nexus.entities["stt"],
                                     "conversation.home_assistant", nexus.entities["tts"])
    run = await run_audio(ws, pipeline, speaker.say("Turn off the kitchen lights."))
    assert "error" not in run.types, run.events
    assert words(run.transcript) == ["turn", "off", "the", "kitchen", "lights"]
    assert kitchen_lights(home_assistant, "off") == {"off"}
    assert run.answer.startswith("Turned off"), run.answer
    assert similar(run.answer, await heard_back(home_assistant, nexus, run)) >= 0.8


@pytest.fixture
async def local_first(ws, nexus) -> str:
    return await create_pipeline(ws, "Nexus, HA's intents first", nexus.entities["stt"], nexus.entities["intent"],
                                 nexus.entities["tts"], prefer_local_intents=True)


async def test_prefer_local_intents_a_light_command_is_done_by_home_assistant(ws, home_assistant, local_first,
                                                                              speaker):
    set_kitchen_lights(home_assistant, "off")
    run = await run_audio(ws, local_first, speaker.say("Turn on the kitchen light."), end_stage="intent")
    assert "error" not in run.types, run.events
    assert kitchen_lights(home_assistant, "on") == {"on"}
    assert run.data("intent-end")["processed_locally"] is True
    assert run.answer.startswith("Turned on"), run.answer


async def test_prefer_local_intents_a_question_goes_to_our_agent(ws, local_first, speaker):
    run = await run_audio(ws, local_first, speaker.say("What is twelve times twelve?"), end_stage="intent")
    assert "error" not in run.types, run.events
    assert run.data("intent-end")["processed_locally"] is False
    assert run.answer == "12 times 12 is 144."
