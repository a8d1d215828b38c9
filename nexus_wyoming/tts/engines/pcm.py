"""Checks on the raw PCM a cloud engine streams back: vendors cut their byte streams
anywhere, and a proxy or a broken provider can answer 200 with no audio, an HTML page
or a JSON error, which played as PCM is a burst of noise."""

from typing import Optional

from ..engine import TtsError

#: Bytes looked at before any audio is passed on: enough to tell text from sound.
SNIFF_BYTES = 256
#: Less audio than this for a non-empty text is not speech (the shortest word is longer).
MIN_AUDIO_S = 0.05


class SampleAligner:
    """Passes on only whole samples and carries a split one over to the next piece."""

    def __init__(self, width: int = 2) -> None:
        self._width = width
        self._carry = b""

    def feed(self, data: bytes) -> bytes:
        """The whole samples available after `data`; may be empty."""
        if self._carry:
            data = self._carry + data
        cut = len(data) - len(data) % self._width
        self._carry = data[cut:]
        return data[:cut]

    @property
    def leftover(self) -> int:
        """Bytes of a sample the stream stopped in the middle of (never played)."""
        return len(self._carry)


class PcmCheck:
    """Holds back a cloud answer's first audio until it is clearly 16-bit PCM speech.

    `feed` returns whole samples to play (nothing until enough arrived to judge);
    `end` returns what is still held and raises TtsError for an answer with no
    usable audio, so the fallback chain moves on instead of playing silence or noise.
    """

    def __init__(self, vendor: str, rate: int) -> None:
        self.vendor = vendor
        self._min_bytes = max(SNIFF_BYTES, int(MIN_AUDIO_S * rate) * 2)
        self._aligner = SampleAligner()
        self._held: Optional[bytearray] = bytearray()  # None once the answer was judged audio

    def feed(self, data: bytes) -> bytes:
        """Whole samples ready to play; raises TtsError when the answer is not audio."""
        audio = self._aligner.feed(data)
        if self._held is None:
            return audio
        self._held += audio
        if len(self._held) < self._min_bytes:
            return b""
        return self._release()

    def end(self) -> bytes:
        """The rest of the audio at the end of the answer; raises TtsError if it had none."""
        if self._held is None:
            return b""
        if not self._held:
            raise TtsError(f"{self.vendor} answered without audio")
        if len(self._held) < self._min_bytes and _looks_like_text(bytes(self._held)):
            raise TtsError(f"{self.vendor} answered text, not audio: {_preview(bytes(self._held))}")
        return self._release()

    @property
    def leftover(self) -> int:
        """Bytes of a sample the answer stopped in the middle of (never played)."""
        return self._aligner.leftover

    def _release(self) -> bytes:
        held, self._held = bytes(self._held or b""), None
        if _looks_like_text(held[:SNIFF_BYTES]):
            raise TtsError(f"{self.vendor} answered text, not audio: {_preview(held)}")
        return held


def check_content_type(vendor: str, content_type: Optional[str]) -> None:
    """Raise TtsError unless an HTTP answer says it is audio (or says nothing)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind and not (kind.startswith("audio/") or kind == "application/octet-stream"):
        raise TtsError(f"{vendor} answered {kind}, not audio")


def _looks_like_text(data: bytes) -> bool:
    """Printable ASCII throughout: an HTML or JSON body; real PCM is never that regular."""
    return bool(data) and all(byte in b"\t\n\r" or 0x20 <= byte < 0x7F for byte in data)


def _preview(data: bytes) -> str:
    return " ".join(data[:80].decode("ascii", "replace").split())
