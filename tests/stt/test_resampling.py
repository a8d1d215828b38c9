"""A 48 kHz client in a real server: the engine (a local Deepgram fake recording what it gets)
receives 16 kHz audio, and whine above 8 kHz is filtered out, not folded into the speech band."""

import numpy as np
from wyoming.asr import Transcribe
from wyoming.audio import AudioStart, AudioStop

from tests.fakes.deepgram_listen import FakeDeepgramListen
from tests.stt.conftest import stt_args
from tests.stt.wire import Received, collect, send_audio
from tests.support.client import WyomingClient
from tests.support.processes import ServerProcess
from tests.test_audio import spectrum_dbfs

HI_RATE, RATE = 48000, 16000


def whiny_speech(seconds: float) -> bytes:
    """What the fake hears as speech (440 Hz, -12 dBFS), plus 12 kHz and 17 kHz at -20 dBFS, at 48 kHz."""
    t = np.arange(int(seconds * HI_RATE)) / HI_RATE
    x = 0.25 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 12000 * t) + 0.1 * np.sin(2 * np.pi * 17000 * t)
    return np.round(x * 32767).astype("<i2").tobytes()


async def test_a_48_khz_stream_reaches_the_engine_at_16_khz_without_aliases(stt_data_dir):
    async with FakeDeepgramListen() as fake:
        env = {"DEEPGRAM_API_KEY": fake.api_key, "NEXUS_STT__DEEPGRAM__URL": fake.url}
        server = ServerProcess(stt_args(stt_data_dir), env=env).start()
        try:
            client = await WyomingClient.connect(server.host, server.port)
            received = Received()
            await client.send(Transcribe(language="en").event())
            await client.send(AudioStart(rate=HI_RATE, width=2, channels=1).event())
            await send_audio(client, whiny_speech(1.5), realtime=False, rate=HI_RATE, size=9600)
            await client.send(AudioStop().event())
            await collect(client, received)
            assert received.first("transcript") is not None
            await client.close()
        finally:
            server.stop()
    heard = bytes(fake.streams[0].audio)
    assert abs(len(heard) / 2 - 1.5 * RATE) <= 2  # every sample, at 16 kHz (the held-back end flushed)
    freqs, level = spectrum_dbfs(heard, RATE)
    speech = np.abs(freqs - 440) <= 15
    assert abs(level[speech].max() - 20 * np.log10(0.25)) <= 0.5
    # linear interpolation would put 12 kHz at 4 kHz and 17 kHz at 1 kHz, both near -20 dBFS
    assert level[~speech].max() < -60
