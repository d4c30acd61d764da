"""``make web``: start the local Triton server and the web gateway; open the address it prints in a browser.

    python clients/web_demo.py [--model-repository model_repository] [gateway options, see clients/web_gateway.py --help]

The server serves ``--model-repository`` on free 127.0.0.1 ports (its log: output/tritonserver-web.log);
the gateway listens on 127.0.0.1:8080 unless told otherwise. Ctrl+C stops both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clients import web_gateway
from gazesam_triton.serve import ROOT
from gazesam_triton.server_process import TritonProcess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clients/web_demo.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-repository", type=Path, default=ROOT / "model_repository")
    args, gateway_args = parser.parse_known_args(argv)
    if "--url" in gateway_args:
        parser.error("--url: this demo starts its own server (run clients/web_gateway.py for another one)")
    log = ROOT / "output" / "tritonserver-web.log"
    print(f"starting tritonserver on 127.0.0.1 with {args.model_repository} (log: {log}) ...", flush=True)
    with TritonProcess(args.model_repository, log) as server:
        return web_gateway.main(["--url", server.grpc_url, *gateway_args])


if __name__ == "__main__":
    sys.exit(main())
