"""Readiness probe for a Triton replica: exit 0 when the server and every named ensemble are ready.

    python -m gazesam_triton.health_probe --url 127.0.0.1:8000 --model gazesam --model gazesam_jpeg

Checks ``/v2/health/ready`` and ``/v2/models/<model>/ready`` over HTTP; any other answer, a refused
connection or a timeout is "not ready" (exit 1, one line on stderr saying which check failed). The
chart's readiness probe runs it, so a replica leaves the proxy's ring as soon as either check fails.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

from gazesam.contracts import ENSEMBLE


def readiness_paths(models: list[str]) -> list[str]:
    """The HTTP paths that must all answer 200: the server's readiness, then each model's."""
    return ["/v2/health/ready", *(f"/v2/models/{model}/ready" for model in models)]


def first_failure(url: str, models: list[str], timeout_s: float) -> str | None:
    """None when every check answers 200, else a line naming the first one that did not."""
    for path in readiness_paths(models):
        try:
            with urllib.request.urlopen(f"http://{url}{path}", timeout=timeout_s) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:  # refused, reset, timed out
            return f"{path}: {exc}"
        if status != 200:
            return f"{path}: HTTP {status}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gazesam_triton.health_probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="127.0.0.1:8000", help="the server's HTTP address (default: %(default)s)")
    parser.add_argument("--model", action="append", help=f"a model that must be ready; repeat for several "
                                                         f"(default: {ENSEMBLE.key})")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per check (default: %(default)s)")
    args = parser.parse_args(argv)
    failure = first_failure(args.url, args.model or [ENSEMBLE.key], args.timeout)
    if failure:
        print(f"not ready: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
