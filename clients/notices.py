"""Messages to the user while progress bars are drawn: on stderr, printed above the bars."""

from __future__ import annotations

import sys

from tqdm import tqdm


def notice(message: str) -> None:
    tqdm.write(message, file=sys.stderr)
