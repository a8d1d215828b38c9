"""Wires the parts together for each mode and runs them until SIGTERM/SIGINT."""

import asyncio
import contextlib
import logging
import socket
from typing import Optional

from wyoming.info import Attribution, Info, Satellite, WakeModel, WakeProgram

from nexus_wyoming import __version__
from nexus_wyoming.metrics import MetricsServer
from nexus_wyoming.protocol.discovery import advertise
from nexus_wyoming.protocol.server import WyomingServer

from .events import make_event_service
from .frontend import Frontend
from .ha import HaHandler, HaSatellite, parse_allow
from .listen import Listener
from .mic import open_mic
from .player import Player
from .settings import SatelliteSettings
from .sounds import Sounds
from .speaker import open_sink

_LOGGER = logging.getLogger(__name__)
ATTRIBUTION = Attribution(name="Nexus Wyoming", url="")


def make_info(settings: SatelliteSettings, frontend: Frontend) -> Info:
    """What `describe` answers: a Satellite with a local VAD, and its wake word (HA resolves `detection` names here)."""
    wake = frontend.wake
    programs = []
    if wake is not None:
        model = WakeModel(name=wake.name, description=wake.phrase, phrase=wake.phrase, attribution=ATTRIBUTION,
                          installed=True, version=None, languages=["en"])
        programs = [WakeProgram(name="microwakeword", description="pymicro-wakeword", attribution=ATTRIBUTION,
                                installed=True, version=None, models=[model])]
    return Info(
        satellite=Satellite(
            name=settings.name, description=f"Nexus satellite {settings.name}", attribution=ATTRIBUTION,
            installed=True, version=__version__, area=settings.area, has_vad=True,
            active_wake_words=[wake.name] if wake else None, max_active_wake_words=1 if wake else None,
            supports_trigger=True,
        ),
        wake=programs,
    )


class Parts:
    """The audio side both modes use, and where their events go; anything unusable raises here, at start."""

    def __init__(self, settings: SatelliteSettings) -> None:
        self.frontend = Frontend.from_settings(settings.frontend)
        self.source = open_mic(settings.audio)
        self.player = Player(open_sink(settings.audio), settings.audio.snd_volume)
        self.sounds = Sounds.from_settings(settings.audio, self.player)
        self.events = make_event_service(settings.event_uri)

    async def close(self) -> None:
        """Stop playing and delivering events."""
        await self.player.close()
        await self.events.close()

    def listener(self, settings: SatelliteSettings, handler) -> Listener:
        """The mic loop feeding `handler`."""
        return Listener(self.source, self.frontend, self.player, handler, settings.barge_in, settings.barge_in_min_ms)


async def run_ha(settings: SatelliteSettings, device_id: str) -> int:
    """Home Assistant mode: serve, advertise, listen; exit code."""
    parts = Parts(settings)
    satellite = HaSatellite(make_info(settings, parts.frontend), parts.frontend, parts.player, device_id,
                            settings.ha.owner_quiet_s, sounds=parts.sounds, events=parts.events)
    allow = parse_allow(settings.ha.allow)  # ValueError: a bad entry stops the start (exit 2)
    server = WyomingServer(settings.ha.uri, lambda c: HaHandler(c, satellite, allow), settings.limits,
                           name="nexus-satellite ha")
    metrics = await start_metrics(settings.metrics_port, settings.metrics_host or server.address.host or "127.0.0.1")
    address = await server.start()
    ad = None
    if settings.ha.zeroconf and address.scheme == "tcp":
        name = settings.ha.zeroconf_name or f"nexus-satellite-{socket.gethostname()}-{device_id[:8]}"
        ad = await advertise(name, address.port, address.host)
    failed: list[BaseException] = []
    mic = asyncio.create_task(parts.listener(settings, satellite.on_segment).run(), name="mic")
    mic.add_done_callback(lambda task: _mic_done(task, server, failed))
    try:
        await server.serve_until_stopped()
    finally:
        mic.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await mic
        await parts.close()
        if ad is not None:
            await ad.stop()
        if metrics is not None:
            await metrics.stop()
    return 2 if failed else 0


def _mic_done(task: asyncio.Task, server: WyomingServer, failed: list) -> None:
    """A microphone that fails for good stops the satellite; one that ends (a file) does not."""
    if task.cancelled() or task.exception() is None:
        return
    _LOGGER.error("microphone failed: %s", task.exception())
    failed.append(task.exception())
    server.stop()


async def start_metrics(port: Optional[int], host: str) -> Optional[MetricsServer]:
    """Prometheus /metrics when a port is set."""
    if port is None:
        return None
    metrics = MetricsServer(port, host=host)
    await metrics.start()
    return metrics
