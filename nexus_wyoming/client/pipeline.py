"""One voice turn end to end: STT → intent (streamed) → TTS (streamed), with stage timings.

Sentences from the intent server go to TTS as they arrive, as our satellite does, so
"first audio" shows what a listener would wait for.
"""

import asyncio
from pathlib import Path
from typing import Callable, Optional

from wyoming.asr import Transcript
from wyoming.handle import Handled, NotHandled
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from .actions import ASR, HANDLE, TTS, Result, _collect_audio, require, transcribe_audio, write_wav
from .connection import DEFAULT_TIMEOUT_S, ClientConnection
from .wav import read_wav


async def pipeline(stt: str, intent: str, tts: str, wav_path: Path, out: Optional[Path] = None,
                   device_id: Optional[str] = None, realtime: bool = True, timeout: float = DEFAULT_TIMEOUT_S,
                   on_partial: Optional[Callable[[str], None]] = None) -> Result:
    """Run a whole turn; milestones are ms after the audio ended (`audio-stop`)."""
    start, pcm = read_wav(wav_path)
    for uri, kinds in ((stt, ASR), (intent, HANDLE), (tts, TTS)):
        await require(uri, kinds, timeout)  # in turn, so the first wrong server is the one named
    heard = await transcribe_audio(stt, start, pcm, realtime, timeout=timeout, on_partial=on_partial)
    result = Result("pipeline")
    stt_ms = heard.values["audio_stop_to_transcript_ms"]
    result.mark("transcript", stt_ms)
    result.values["transcript"] = heard.values["text"]
    agent, speaker = await asyncio.gather(ClientConnection.open(intent, timeout), ClientConnection.open(tts, timeout))
    offset = stt_ms - agent.clock()  # put both connections on the audio-stop clock
    tts_result = Result("tts")
    playing = asyncio.create_task(_collect_audio(speaker, tts_result, "synthesize-stopped", patient=True))
    try:
        await speaker.send(SynthesizeStart().event())
        context = {"device_id": device_id} if device_id else None
        await agent.send(Transcript(text=heard.values["text"], context=context, language="en").event())
        reply = await _relay(agent, speaker, result, offset)
        await speaker.send(Synthesize(text=reply).event())
        await speaker.send(SynthesizeStop().event())
        audio, rate = await speaker.within(playing, "synthesize-stopped")
    finally:
        playing.cancel()
        await asyncio.gather(agent.close(), speaker.close())
    shift = offset + (speaker.opened - agent.opened) * 1000  # speaker clock → audio-stop clock
    for name, at in tts_result.milestones:
        result.mark(f"tts {name}", at + shift)
    result.values.update(reply=reply, audio_s=round(len(audio) / (2 * rate), 2) if rate else 0.0)
    if out is not None and rate:
        write_wav(out, audio, rate)
        result.values["wav"] = str(out)
    return result


async def _relay(agent: ClientConnection, speaker: ClientConnection, result: Result, offset: float) -> str:
    """Forward each handled sentence to TTS; returns the full reply text."""
    streamed = ""
    while True:
        event = await agent.expect("handled")
        if event.type == "handled-chunk":
            result.mark("intent first sentence", agent.clock() + offset)
            text = str(event.data.get("text", ""))
            if streamed and not (streamed[-1:].isspace() or text[:1].isspace()):
                text = " " + text  # some agents send sentences without their separating space
            await speaker.send(SynthesizeChunk(text=text).event())
            streamed += text
        elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
            result.mark(f"intent {event.type}", agent.clock() + offset)
            text = event.data.get("text", "")
            if not streamed:
                await speaker.send(SynthesizeChunk(text=text).event())
            return text
