"""Runs one Wyoming server process: listen, advertise, expose metrics, drain on SIGTERM."""

import logging
import socket
from typing import Awaitable, Callable, Optional

from .. import __version__
from ..config import Config
from ..metrics import MetricsServer
from ..status import BOARD, StatusReport, parse_peers
from .discovery import advertise
from .server import HandlerFactory, WyomingServer

_LOGGER = logging.getLogger(__name__)


class ServingFailed(RuntimeError):
    """The server broke after it started listening: not a configuration error, so restart it alone."""


async def run_server(
    config: Config,
    kind: str,
    uri: str,
    handler_factory: HandlerFactory,
    on_stop: Optional[Callable[[], Awaitable[None]]] = None,
) -> None:
    """Serve `handler_factory` on `uri` until SIGTERM/SIGINT, then drain and clean up."""
    server = WyomingServer(uri, handler_factory, config.limits, name=f"nexus-wyoming {kind}")
    status = StatusReport(kind, __version__, parse_peers(config.status_peers), BOARD)  # ValueError: bad peers
    metrics_host = config.metrics_host or server.address.host or "127.0.0.1"  # a unix socket stays local
    metrics = (MetricsServer(config.metrics_port, host=metrics_host, status=status)
               if config.metrics_port is not None else None)
    address = await server.start()
    ad = None
    try:
        if metrics is not None:
            await metrics.start()
        if config.zeroconf and address.scheme == "tcp":
            name = config.zeroconf_name or f"nexus-{kind}-{socket.gethostname()}"
            ad = await advertise(name, address.port, address.host)
        try:
            await server.serve_until_stopped()
        except Exception as err:
            raise ServingFailed(f"{kind} server failed while serving: {type(err).__name__}: {err}") from err
    finally:
        if ad is not None:
            await ad.stop()
        if metrics is not None:
            await metrics.stop()
        if on_stop is not None:
            await on_stop()
