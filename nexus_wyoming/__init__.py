"""Nexus Wyoming: low-latency Wyoming STT, intent and TTS servers."""

__version__ = "0.1.0"
