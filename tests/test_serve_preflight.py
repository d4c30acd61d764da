"""A missing or corrupt model file at start-up: one clear line naming the file and the fix, exit status 2.

Each test corrupts its own freshly generated repository (never ``model_repository/``: its files are
hard links to ``models/``, so the corruption replaces the link with a new file, never writes through it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from build_engines.repository import write_repository
from gazesam.networks import model_set
from gazesam_triton.repository_check import RepositoryError, check_repository
from gazesam_triton.serve import build_parser, prepare_backend_dir, server_command, server_env
from gazesam_triton.server_process import TritonProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"


def standin_size() -> str:
    sizes = [size for size in ("tiny", "full") if (MODELS_DIR / "standins" / size).is_dir()]
    if not sizes:
        pytest.fail(f"{MODELS_DIR} holds no stand-ins: run 'make setup' first")
    return sizes[0]


@pytest.fixture
def repository(tmp_path) -> Path:
    """A freshly generated repository of this project's models (hard links, cheap)."""
    out = tmp_path / "model_repository_standin"
    write_repository(out, MODELS_DIR, model_set("standin"), standin_size())
    return out


def replace_file(path: Path, data: bytes) -> None:
    """Give ``path`` new content without writing through a hard link to ``models/``."""
    path.unlink()
    path.write_bytes(data)


def run_launcher(repository: Path, timeout_s: float = 90.0) -> subprocess.CompletedProcess:
    """``python -m gazesam_triton.serve`` on ``repository``; a server it starts by mistake is killed."""
    command = [
        sys.executable, "-m", "gazesam_triton.serve", f"--model-repository={repository}",
        f"--http-port={free_port()}", f"--grpc-port={free_port()}", f"--metrics-port={free_port()}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate()
        pytest.fail(f"the launcher started serving {repository} instead of refusing it")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def assert_one_clear_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    print(f"launcher exit {result.returncode}: {result.stderr.strip()}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_a_freshly_generated_repository_passes(repository):
    check_repository(repository)


def test_truncated_real_model_file(repository):
    path = repository / "face_detector" / "1" / "model.onnx"
    replace_file(path, path.read_bytes()[:1000])
    assert_one_clear_line(
        run_launcher(repository), str(path), "not a readable ONNX file", "python -m build_engines fetch --from"
    )


def test_truncated_standin_model_file(repository):
    path = repository / "sam_decoder" / "1" / "model.onnx"
    replace_file(path, path.read_bytes()[: path.stat().st_size // 2])  # cut inside its weights
    size = standin_size()
    assert_one_clear_line(
        run_launcher(repository), str(path), "not a readable ONNX file",
        f"python -m build_engines standins --size {size}",
        f"python -m build_engines repository --standin-size {size} --models standin --out {repository}'",
        f"make setup-standin STANDINS={size}",
    )


def test_fix_names_the_repositorys_own_families(tmp_path):
    """A repository with a swapped family is rebuilt with that family, into its own folder."""
    out = tmp_path / "repo_yolo_nas"
    write_repository(out, MODELS_DIR, model_set("standin", "detector=yolo_nas_ort"), standin_size())
    path = out / "object_detector" / "1" / "model.onnx"
    path.unlink()
    line = assert_one_clear_line(run_launcher(out), str(path), "is missing")
    assert f"--models standin --family detector=yolo_nas_ort --out {out}'" in line and "make setup" not in line


def test_deleted_model_file(repository):
    path = repository / "depth_estimator" / "1" / "model.onnx"
    path.unlink()
    assert_one_clear_line(run_launcher(repository), str(path), "is missing", "Fix: run 'python -m build_engines")


def test_model_file_of_another_network(repository):
    path = repository / "gaze_estimator" / "1" / "model.onnx"
    replace_file(path, (repository / "depth_estimator" / "1" / "model.onnx").read_bytes())
    assert_one_clear_line(run_launcher(repository), str(path), "does not match its contract", "Fix: run")


def test_repository_without_the_ensemble(repository, tmp_path):
    assert_one_clear_line(run_launcher(tmp_path / "nowhere"), "holds no gazesam ensemble", "make setup")


def test_ensemble_step_without_its_model(repository):
    shutil.rmtree(repository / "mask_select")
    assert_one_clear_line(run_launcher(repository), "model 'mask_select' that the ensemble", "is missing", "Fix: run")


def test_test_harness_refuses_too_before_starting_a_server(repository, tmp_path):
    (repository / "object_detector" / "1" / "model.onnx").unlink()
    server = TritonProcess(repository, tmp_path / "triton.log")
    with pytest.raises(RepositoryError, match="object_detector.*is missing"):
        server.start()
    assert server.process is None


@pytest.mark.e2e
def test_network_adapter_names_the_bad_file_in_tritons_log(repository, tmp_path):
    """Served without the launcher's check (as in the NGC container), the model's own load error is clear too."""
    alone = tmp_path / "one_model"
    shutil.copytree(repository / "face_detector", alone / "face_detector")  # copies: the link to models/ is gone
    path = alone / "face_detector" / "1" / "model.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    args = build_parser().parse_args(
        [f"--model-repository={alone}", f"--http-port={free_port()}", f"--grpc-port={free_port()}",
         f"--metrics-port={free_port()}"]
    )
    command = server_command(args, prepare_backend_dir(Path(args.backend_dir)))
    result = subprocess.run(command, env=server_env(), capture_output=True, text=True, timeout=180)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    line = next(line for line in log.splitlines() if "UNAVAILABLE" in line)
    print(line)
    assert f"face_detector: model file {path} for network 'face' is not a readable ONNX file" in line
    assert "Then regenerate the repository: 'python -m build_engines repository --models standin --profile cpu'" in line
    assert "Traceback" not in log
