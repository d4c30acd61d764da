"""Security of the served repository: the launcher binds 127.0.0.1 unless told otherwise, clients cannot
load or unload models (model control mode ``none``), the shared-memory, logging, trace and repository APIs
need the admin key (so a local user cannot point the server at its own IPC regions and crash it), the
backend's /dev/shm regions are private, ``--no-http`` leaves no HTTP port, and code that runs inside the
server has no shell, process or code-loading facilities a request could reach (README "Security")."""

from __future__ import annotations

import ast
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.contracts import ENSEMBLE, Status
from gazesam.networks import model_set
from gazesam_triton.admin_key import ADMIN_HEADER, GRPC_HEADER_PREFIX, admin_headers, ensure_admin_key, read_admin_key
from gazesam_triton.serve import build_parser, server_command
from gazesam_triton.server_leftovers import SHM_DIR, region_prefix
from gazesam_triton.server_process import free_port

from conftest import shared_path

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = ROOT / "model_repository_standin"
FACE_MODEL = model_set("standin").network("face").model  # Triton model of the face network
SERVER_SIDE_DIRS = (ROOT / "python_backend" / "gazesam", ROOT / "python_backend" / "gazesam_triton")
LAUNCHER_MODULES = {"serve.py", "server_process.py", "repository_check.py", "process_memory.py", "supervisor.py",
                    "server_leftovers.py", "http_guard.py", "admin_key.py"}  # run outside the server
FORBIDDEN_IMPORTS = {"subprocess", "shlex", "pickle", "marshal", "shelve", "socket", "ctypes", "multiprocessing", "pty"}
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__", "open"}
FORBIDDEN_METHODS = {"system", "popen", "execv", "execve", "execvp", "spawnv", "spawnl", "import_module", "imread",
                     "VideoCapture", "load_model"}
TCP_LISTEN = "0A"


# --- without a server ------------------------------------------------------------------------------


def test_launcher_binds_loopback_by_default_and_never_enables_model_control():
    default = server_command(build_parser().parse_args([]), Path("/backends"), "key", "guard", 9000)
    assert {"--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--metrics-address=127.0.0.1"} <= set(default)
    assert "--model-control-mode=none" in default
    told = server_command(build_parser().parse_args(["--host", "0.0.0.0"]), Path("/backends"), "key", "guard", 9000)
    assert "--grpc-address=0.0.0.0" in told and "--model-control-mode=none" in told
    assert "--http-address=127.0.0.1" in told  # Triton's own HTTP service stays behind the guard, on loopback
    assert "--allow-http=false" in server_command(build_parser().parse_args(["--no-http"]), Path("/b"), "key")


def test_launcher_puts_the_admin_apis_and_triton_http_behind_keys():
    command = server_command(build_parser().parse_args([]), Path("/backends"), "k1", "g1", 9000)
    assert "--grpc-restricted-protocol=shared-memory,logging,trace,model-repository:gazesam-admin-key=k1" in command
    assert "--http-restricted-api=shared-memory,logging,trace,model-repository:gazesam-admin-key=k1" in command
    assert ("--http-restricted-api=health,metadata,inference,model-config,statistics:gazesam-guard-key=g1"
            in command)


def test_the_admin_key_file_is_made_once_and_readable_by_its_user_only(tmp_path, monkeypatch):
    path = tmp_path / "config" / "gazesam" / "admin-key"
    monkeypatch.delenv("GAZESAM_ADMIN_KEY", raising=False)
    key = ensure_admin_key(path)
    assert len(key) >= 32 and ensure_admin_key(path) == key == read_admin_key(path)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


def server_side_modules() -> list[Path]:
    return [
        path for folder in SERVER_SIDE_DIRS for path in sorted(folder.glob("*.py")) if path.name not in LAUNCHER_MODULES
    ]


def forbidden_uses(path: Path) -> list[str]:
    """Imports of shell/process/deserialisation modules and calls that run commands, load code or open files."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [f"{path.name}:{node.lineno} imports {a.name}" for a in node.names
                      if a.name.split(".")[0] in FORBIDDEN_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_IMPORTS:
            found.append(f"{path.name}:{node.lineno} imports {node.module}")
        elif isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTINS) or (
                isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHODS
            ):
                found.append(f"{path.name}:{node.lineno} calls {ast.unparse(func)}")
    return found


def test_code_inside_the_server_has_no_shell_process_or_code_loading_calls():
    """Audit aid: a request's values reach only numpy code; nothing here runs a command or loads code.

    Files are opened only at model load (``model.onnx`` from Triton's own arguments, the settings file
    from GAZESAM_SETTINGS), through ``Path.open`` / ``onnx.load``, never with a request's values.
    """
    modules = server_side_modules()
    assert len(modules) > 10  # the scan sees the library and the adapters
    assert forbidden_uses(ROOT / "python_backend" / "gazesam_triton" / "supervisor.py")  # the scan can see a use
    found = [use for path in modules for use in forbidden_uses(path)]
    assert not found, found


# --- the real launcher -----------------------------------------------------------------------------


@dataclass
class Launched:
    process: subprocess.Popen
    http_port: int
    grpc_port: int
    metrics_port: int

    @property
    def ports(self) -> set[int]:
        return {self.http_port, self.grpc_port, self.metrics_port}


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """``python -m gazesam_triton.serve`` with no ``--host``: exactly what a user runs."""
    if not (REPOSITORY / ENSEMBLE.key / "config.pbtxt").is_file():
        pytest.fail(f"{REPOSITORY} is not generated: run 'make setup' first")
    ports = free_port(), free_port(), free_port()
    command = [sys.executable, "-m", "gazesam_triton.serve", f"--model-repository={REPOSITORY}",
               f"--http-port={ports[0]}", f"--grpc-port={ports[1]}", f"--metrics-port={ports[2]}"]
    log = (tmp_path_factory.mktemp("launcher") / "serve.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    server = Launched(process, *ports)
    try:
        wait_ready(server, timeout_s=240)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)  # the launcher forwards it to tritonserver
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_ready(server: Launched, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"the launcher exited with {server.process.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/v2/health/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the launcher's server was not ready after {timeout_s:g} s")


def listening_addresses(ports: set[int]) -> dict[int, list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    """Port -> local addresses of the TCP sockets listening on it, from /proc/net/tcp and tcp6."""
    found: dict[int, list] = {port: [] for port in ports}
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not Path(table).exists():
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            address_hex, port_hex = fields[1].split(":")
            if fields[3] != TCP_LISTEN or int(port_hex, 16) not in ports:
                continue
            # the kernel prints each 32-bit word in host (little-endian) byte order
            words = [bytes.fromhex(address_hex[i : i + 8])[::-1] for i in range(0, width, 8)]
            found[int(port_hex, 16)].append(ipaddress.ip_address(b"".join(words)))
    return found


def is_loopback(address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def test_the_launcher_listens_on_loopback_only(launched):
    listeners = listening_addresses(launched.ports)
    print(f"listening sockets: { {port: [str(a) for a in addrs] for port, addrs in listeners.items()} }")
    assert all(listeners.values()), f"a port has no listener: {listeners}"
    assert all(is_loopback(a) for addrs in listeners.values() for a in addrs), listeners


def test_clients_cannot_load_or_unload_models_even_with_the_admin_key(launched, tmp_path):
    marker = tmp_path / "written_by_an_uploaded_model"
    intruder_config = json.dumps({"name": "intruder", "backend": "python", "max_batch_size": 0})
    intruder_code = f"open({str(marker)!r}, 'w').write('pwned')\n".encode()
    grpc = grpcclient.InferenceServerClient(f"127.0.0.1:{launched.grpc_port}")
    http = httpclient.InferenceServerClient(f"127.0.0.1:{launched.http_port}")
    g, h = admin_headers("grpc"), admin_headers("http")
    attempts = {
        "grpc unload gazesam": lambda: grpc.unload_model(ENSEMBLE.key, headers=g),
        "grpc unload face_detector": lambda: grpc.unload_model(FACE_MODEL, headers=g),
        "grpc reload gazesam": lambda: grpc.load_model(ENSEMBLE.key, headers=g),
        "grpc upload a new model": lambda: grpc.load_model(
            "intruder", config=intruder_config, files={"file:1/model.py": intruder_code}, headers=g),
        "http unload gazesam": lambda: http.unload_model(ENSEMBLE.key, headers=h),
        "http upload a new model": lambda: http.load_model(
            "intruder", config=intruder_config, files={"file:1/model.py": intruder_code}, headers=h),
        "grpc unload without the key": lambda: grpc.unload_model(ENSEMBLE.key),
    }
    for name, attempt in attempts.items():
        with pytest.raises(InferenceServerException) as refused:
            attempt()
        print(f"{name}: refused: {refused.value.message()}")
    assert not marker.exists()
    index = {entry["name"]: entry.get("state") for entry in http.get_model_repository_index(headers=admin_headers("http"))}
    assert "intruder" not in index and index[ENSEMBLE.key] == "READY"
    assert grpc.is_model_ready(ENSEMBLE.key) and grpc.is_model_ready(FACE_MODEL)
    image = cv2.imread(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")))
    result = GazeSamClient(f"127.0.0.1:{launched.grpc_port}", "grpc").infer(image, 0.0, new_stream_id(), True, True)
    assert result.status != Status.NO_FACE  # and the ensemble keeps serving


def backend_regions(launched: Launched) -> list[Path]:
    """The Python backend's own IPC regions of the launched server (their names are in every stub's ``ps`` line)."""
    return sorted(SHM_DIR.glob(f"{region_prefix(launched.grpc_port)}*"))


def test_an_anonymous_client_cannot_register_the_backends_own_regions_and_the_server_keeps_serving(launched):
    """The attack: register a stub's IPC region as an output region and run frame_check into it (it aborted Triton)."""
    regions = backend_regions(launched)
    assert regions, "the backend's regions were not found"
    grpc = grpcclient.InferenceServerClient(f"127.0.0.1:{launched.grpc_port}")
    http = httpclient.InferenceServerClient(f"127.0.0.1:{launched.http_port}")
    attempts = {
        "grpc register, no key": lambda: grpc.register_system_shared_memory("x", f"/{regions[0].name}", 1 << 20),
        "grpc register, wrong key": lambda: grpc.register_system_shared_memory(
            "x", f"/{regions[0].name}", 1 << 20, headers={GRPC_HEADER_PREFIX + ADMIN_HEADER: "wrong"}),
        "http register, no key": lambda: http.register_system_shared_memory("x", f"/{regions[0].name}", 1 << 20),
        "grpc verbose logging": lambda: grpc.update_log_settings({"log_verbose_level": 1}),
        "http verbose logging": lambda: http.update_log_settings({"log_verbose_level": 1}),
        "grpc trace": lambda: grpc.update_trace_settings(settings={"trace_level": ["TIMESTAMPS"]}),
        "grpc repository index": lambda: grpc.get_model_repository_index(),
    }
    for name, attempt in attempts.items():
        with pytest.raises(InferenceServerException, match="restricted") as refused:
            attempt()
        print(f"{name}: refused: {refused.value.message()}")
    assert not grpc.get_system_shared_memory_status(headers=admin_headers("grpc")).regions
    assert http.get_log_settings(headers=admin_headers("http"))["log_verbose_level"] == 0
    image = cv2.imread(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")))
    result = GazeSamClient(f"127.0.0.1:{launched.grpc_port}", "grpc").infer(image, 0.0, new_stream_id(), True, True)
    assert result.status != Status.NO_FACE


def test_the_backends_regions_are_readable_by_this_user_only(launched):
    modes = {path.name: oct(path.stat().st_mode & 0o777) for path in backend_regions(launched)}
    print(f"{len(modes)} backend regions: {set(modes.values())}")
    assert modes and set(modes.values()) == {"0o600"}


def test_no_http_leaves_no_http_port(tmp_path):
    from gazesam_triton.server_process import TritonProcess

    with TritonProcess(REPOSITORY, tmp_path / "serve.log", extra_args=("--no-http",)) as server:
        assert not listening_addresses({server.http_port})[server.http_port]
        assert listening_addresses({server.grpc_port})[server.grpc_port]
