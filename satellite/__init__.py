"""Nexus Wyoming satellite: the Raspberry Pi side (microphone, speaker, local VAD)."""
