"""Whole-sample framing for streamed PCM: vendors cut their byte streams anywhere."""


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
