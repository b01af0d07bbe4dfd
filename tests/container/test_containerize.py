"""`modelrail containerize`: error paths without an engine, then build, smoke and push on a real engine + registry.

The engine tests bake a repo, run its pipeline and build its image once per module; the variants (a model whose
predictions break the suite, a server that crashes on bad input) reuse that image's cached layers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from support.template import bake, dvc, run

from modelrail.cli import main
from modelrail.container import probes, wheelhouse
from modelrail.container import smoke as container_smoke
from modelrail.gates.records import Check
from modelrail.identity import load_artifact

BIN = Path(sys.executable).parent
MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"


# ---------------------------------------------------------------- without an engine


@pytest.fixture
def tiny_repo(workdir) -> Path:
    """The least a model repo needs for the artifact identity: a commit, dvc.lock, models/model, modelrail.yaml."""
    (workdir / "models/model").mkdir(parents=True)
    (workdir / "models/model/requirements.txt").write_text("mlflow==3.1.0\nscikit-learn==1.5.0 # pinned\n")
    (workdir / "Dockerfile").write_text("FROM scratch\n")
    (workdir / "modelrail.yaml").write_text("project: Tiny\nenvironments: [staging]\n")
    lock = {
        "schema": "2.0",
        "stages": {
            "prepare": {"outs": [{"path": "data/prepared/test.csv", "md5": "a" * 32}]},
            "train": {
                "deps": [{"path": "data/prepared/train.csv", "md5": "b" * 32}],
                "outs": [{"path": "models/model", "md5": "c" * 32 + ".dir"}],
            },
        },
    }
    (workdir / "dvc.lock").write_text(json.dumps(lock))
    for command in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=workdir, check=True)
    return workdir


def test_artifact_identity_comes_from_dvc_lock_and_git(tiny_repo):
    artifact = load_artifact(tiny_repo)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tiny_repo, capture_output=True, text=True).stdout.strip()
    assert artifact.project == "tiny"
    assert artifact.tags == [f"sha-{sha}", f"model-{'c' * 32}"]
    assert artifact.data_label == f"data/prepared/test.csv={'a' * 32} data/prepared/train.csv={'b' * 32}"


@pytest.mark.parametrize("command", ["build", "push"])
def test_no_engine_is_a_configuration_error_naming_docker_host(tiny_repo, monkeypatch, capsys, command):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tiny_repo}/no-such.sock")
    assert main(["containerize", command, *(["--registry", "127.0.0.1:5000"] if command == "push" else [])]) == 2
    err = capsys.readouterr().err
    assert f"DOCKER_HOST=unix://{tiny_repo}/no-such.sock" in err
    assert "Traceback" not in err


def test_smoke_without_an_engine_exits_2(tiny_repo, monkeypatch, capsys):
    model = tiny_repo / "models/model"
    (model / "MLmodel").write_text('signature:\n  inputs: \'[{"type": "double", "name": "x"}]\'\n', encoding="utf-8")
    (tiny_repo / "sample.csv").write_text("x,target\n1.0,0\n")
    suite = {"name": "p", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "prediction"}}]}
    (tiny_repo / "suite.json").write_text(json.dumps(suite))
    monkeypatch.setattr(container_smoke, "_predict_in_process", lambda model_dir, frame: [0])
    # The model was rewritten above: without dvc.lock nothing claims its hash, so the engine is what is missing.
    (tiny_repo / "dvc.lock").unlink()
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    code = main(["containerize", "smoke", "--image", "x:1", "--sample", "sample.csv", "--suite", "suite.json"])
    assert code == 2
    assert "DOCKER_HOST=tcp://127.0.0.1:9" in capsys.readouterr().err


def test_without_dvc_lock_the_error_says_to_run_the_pipeline(tiny_repo, capsys):
    (tiny_repo / "dvc.lock").unlink()
    assert main(["containerize", "build"]) == 2
    assert "dvc.lock: no such file (run `dvc repro`" in capsys.readouterr().err


def test_push_without_a_registry_names_the_key(tiny_repo, monkeypatch, capsys):
    monkeypatch.delenv("MODELRAIL_REGISTRY", raising=False)
    assert main(["containerize", "push"]) == 2
    assert "key 'container_registry' is not set" in capsys.readouterr().err


def test_serving_requirements_swap_mlflow_for_mlflow_skinny(tiny_repo):
    assert wheelhouse.serving_requirements(tiny_repo / "models/model") == [
        "mlflow-skinny==3.1.0",
        "scikit-learn==1.5.0",
    ]


@pytest.mark.parametrize(
    ("status", "passed", "says"),
    [
        (400, True, "400"),
        (413, True, "413"),
        (200, False, "accepted it"),
        (500, False, "server error"),
        (None, False, "crashed"),
    ],
)
def test_a_malformed_request_must_get_a_4xx(status, passed, says):
    request = probes.Request("empty-body", "an empty body", "")
    check = probes.refused(request, {"status": status, "body": "ConnectionResetError()"})
    assert check.success is passed
    assert says in check.message


def test_predictions_that_differ_name_the_row():
    import pandas as pd

    served, expected = pd.DataFrame({"prediction": [0, 1, 1]}), pd.DataFrame({"prediction": [0, 1, 0]})
    check = container_smoke.compare(served, expected, 1e-6)
    assert isinstance(check, Check) and not check.success
    assert "row 2: the image answered 1, the in-process model 0" in check.message
    assert container_smoke.compare(served.astype(float) + 1e-9, served, 1e-6).success


@pytest.mark.bake
def test_the_baked_dockerfile_is_hadolint_clean(tmp_path):
    repo = bake(tmp_path)
    proc = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "warning", "Dockerfile"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (repo / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in text and "USER 10001" in text and "HEALTHCHECK" in text


# ---------------------------------------------------------------- a real engine and registry


@pytest.fixture(scope="session")
def engine(docker_infra):
    return docker_infra


def cli(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(BIN / "modelrail"), *args], repo, check=check)


@pytest.fixture(scope="module")
def built(engine, tmp_path_factory):
    """A baked repo after `dvc repro` and `modelrail containerize build`, with its artifact identity."""
    repo = bake(tmp_path_factory.mktemp("containerize"))
    dvc(repo, "repro")
    proc = cli(repo, "containerize", "build", "--base-image", engine["MODELRAIL_BASE_IMAGE"])
    image_id = proc.stdout.strip().splitlines()[-1].split()[1]
    return repo, image_id, load_artifact(repo)


def test_build_tags_and_labels_the_image_with_the_artifact_identity(built):
    import docker

    repo, image_id, artifact = built
    image = docker.from_env().images.get(image_id)
    assert {f"{artifact.project}:{tag}" for tag in artifact.tags} <= set(image.tags)
    labels = image.labels
    lock_md5 = next(
        o["md5"] for o in __import__("yaml").safe_load((repo / "dvc.lock").read_text())["stages"]["train"]["outs"]
    )
    assert labels["io.modelrail.model.md5"] == lock_md5.removesuffix(".dir") == artifact.model_md5
    assert labels["org.opencontainers.image.revision"] == artifact.git_sha
    assert (
        f"data/raw/breast_cancer.csv={artifact.data_md5['data/raw/breast_cancer.csv']}"
        in labels["io.modelrail.data.md5"]
    )
    assert labels["io.modelrail.model.version"] == json.loads((repo / "models/run.json").read_text())["run_id"]
    config = image.attrs["Config"]
    assert config["User"] == "10001" and config["Healthcheck"]["Test"][0] == "CMD"


def test_the_image_keeps_bytecode_only_and_what_serving_reads(built):
    import docker

    _, image_id, _ = built
    script = """
import glob, json, os, ssl, sysconfig, mlflow.pyfunc.scoring_server
stdlib = sysconfig.get_path("stdlib")
print(json.dumps({
    "modules": [json.__file__, mlflow.pyfunc.scoring_server.__file__],
    "sources": [p for p in glob.glob(stdlib + "/*.py") + glob.glob("/opt/venv/lib/*/site-packages/mlflow/*.py")
                if not os.path.islink(p)],
    "pruned": [p for p in ["/var/lib/dpkg/info", "/usr/share/perl5", stdlib + "/test"] if os.path.exists(p)],
    "dpkg status": os.path.isfile("/var/lib/dpkg/status"),
    "CA certificates": len(ssl.create_default_context().get_ca_certs()),
}))
"""
    out = docker.from_env().containers.run(image_id, ["python3", "-c", script], network_mode="none", remove=True)
    facts = json.loads(out.decode().strip().splitlines()[-1])
    assert all(path.endswith(".pyc") for path in facts["modules"]), facts
    assert facts["sources"] == [] and facts["pruned"] == [], facts
    assert facts["dpkg status"] and facts["CA certificates"] > 100, facts


def test_smoke_passes_and_records_the_container_gate(built):
    repo, image_id, _ = built
    proc = cli(repo, "containerize", "smoke", "--image", image_id)
    record = json.loads((repo / "gates/container.json").read_text())
    assert record["gate"] == "container" and record["passed"] is True, proc.stdout
    names = [check["name"] for check in record["checks"]]
    assert "healthy" in names and "predictions match the in-process model" in names
    assert "predictions: expect_column_values_to_be_in_set" in names
    refusals = [check for check in record["checks"] if check["name"].startswith("refuses ")]
    assert len(refusals) == 11 and all(check["success"] for check in refusals), refusals
    answers = {check["name"]: check["details"] for check in refusals}
    for probe in ("a NaN value", "an Infinity value", "the value 1e309 (beyond float range)"):
        assert answers[f"refuses {probe} with a 4xx"]["status"] == 400
    assert answers["refuses a request without Content-Type with a 4xx"]["status"] == 415
    assert answers["refuses Content-Type text/plain with a 4xx"]["status"] == 415
    for probe in ("50 MB of invalid JSON", "a body one byte over the limit", "a chunked body over the limit"):
        assert answers[f"refuses {probe} with a 4xx"]["status"] == 413
    assert all(d["answer_bytes"] < 4096 and "stack_trace" not in d["answer"] for d in answers.values())
    assert record["inputs"]["image"]["id"] == image_id


def test_push_puts_both_tags_on_the_registry_with_the_printed_digest(built, engine):
    repo, image_id, artifact = built
    registry = engine["MODELRAIL_REGISTRY"]
    proc = cli(repo, "containerize", "push", "--image", image_id, "--registry", registry)
    digest = proc.stdout.strip().splitlines()[-1].removeprefix("digest=")
    assert digest.startswith("sha256:")
    with urllib.request.urlopen(f"http://{registry}/v2/{artifact.project}/tags/list", timeout=10) as answer:
        assert set(artifact.tags) <= set(json.load(answer)["tags"])
    for tag in artifact.tags:
        request = urllib.request.Request(
            f"http://{registry}/v2/{artifact.project}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": MANIFEST_TYPES},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.headers["Docker-Content-Digest"] == digest


def test_a_model_tag_the_registry_has_is_never_pushed_again(built, engine, tmp_path):
    repo, image_id, artifact = built
    registry = engine["MODELRAIL_REGISTRY"]
    reference = f"{registry}/{artifact.project}:{artifact.model_tag}"
    before = cli(repo, "containerize", "push", "--image", image_id, "--registry", registry)
    digest = before.stdout.strip().splitlines()[-1].removeprefix("digest=")
    output = tmp_path / "output"
    output.touch()
    proc = run(
        ["env", f"GITHUB_OUTPUT={output}", str(BIN / "modelrail"), "containerize", "published", "--registry", registry],
        repo,
    )
    assert f"{reference}: in the registry at {digest}" in proc.stdout
    assert f"exists=true\ndigest={digest}\n" in output.read_text()
    # A rebuilt image (another id) under the same model tag: push keeps the registry's image as it is.
    (repo / "Dockerfile").write_text((repo / "Dockerfile").read_text() + "\nLABEL rebuilt=yes\n")
    try:
        rebuilt = cli(repo, "containerize", "build", "--base-image", engine["MODELRAIL_BASE_IMAGE"])
        rebuilt_id = rebuilt.stdout.strip().splitlines()[-1].split()[1]
        assert rebuilt_id != image_id
        again = cli(repo, "containerize", "push", "--image", rebuilt_id, "--registry", registry)
    finally:
        run(["git", "checkout", "--", "Dockerfile"], repo)
        cli(repo, "containerize", "build", "--base-image", engine["MODELRAIL_BASE_IMAGE"])  # the tags back on it
    assert f"Not pushed: the registry already has {reference}" in again.stdout
    assert again.stdout.strip().endswith(f"digest={digest}")
    request = urllib.request.Request(
        f"http://{registry}/v2/{artifact.project}/manifests/{artifact.model_tag}",
        method="HEAD",
        headers={"Accept": MANIFEST_TYPES},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.headers["Docker-Content-Digest"] == digest


def test_a_failed_push_is_a_clear_error_and_leaves_no_tag(built):
    import docker

    repo, image_id, _ = built
    proc = cli(repo, "containerize", "push", "--image", image_id, "--registry", "127.0.0.1:9", check=False)
    assert proc.returncode == 1
    # Push first asks the registry whether it has the model tag already: an unreachable one fails there, by name.
    assert "cannot ask the registry for 127.0.0.1:9/" in proc.stderr and "Traceback" not in proc.stderr
    tags = docker.from_env().images.get(image_id).tags
    assert not [tag for tag in tags if tag.startswith("127.0.0.1:9/")]


def variant(built, tmp_path: Path, project: str) -> Path:
    """A copy of the built repo under another project name, so its image gets its own tags."""
    repo = shutil.copytree(built[0], tmp_path / project, symlinks=True)
    config = repo / "modelrail.yaml"
    config.write_text(config.read_text().replace("project: breast-cancer-classifier", f"project: {project}"))
    return repo


def test_a_model_whose_predictions_break_the_suite_fails_smoke(built, tmp_path):
    import numpy as np
    import skops.io

    repo = variant(built, tmp_path, "unknown-classes")
    model_file = repo / "models/model/model.skops"
    model = skops.io.load(model_file, trusted=skops.io.get_untrusted_types(file=model_file))
    model.classes_ = np.array([0, 7])  # a class the predictions suite does not know
    skops.io.dump(model, model_file)
    # Recorded in dvc.lock, as a pipeline run would: an honest model whose predictions the suite refuses.
    subprocess.run([sys.executable, "-m", "dvc", "commit", "-f", "-q"], cwd=repo, check=True)
    cli(repo, "containerize", "build")
    proc = cli(repo, "containerize", "smoke", check=False)
    assert proc.returncode == 1, proc.stdout
    record = json.loads((repo / "gates/container.json").read_text())
    failed = {check["name"] for check in record["checks"] if not check["success"]}
    assert failed == {
        "predictions: expect_column_values_to_be_between",
        "predictions: expect_column_values_to_be_in_set",
    }
    assert "column 'prediction'" in proc.stderr


# A stand-in server for the image: it serves the same model, but its answer to bad input is the bug under test.
SERVER = """
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import mlflow.pyfunc
import pandas as pd

model = mlflow.pyfunc.load_model(os.environ["__pyfunc_model_path__"])


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            split = json.loads(body)["dataframe_split"]
            predictions = model.predict(pd.DataFrame(split["data"], columns=split["columns"])).tolist()
        except Exception:
            ON_BAD_INPUT
        answer = json.dumps({"predictions": predictions}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"""
ON_BAD_INPUT = {
    "crashing": "os._exit(3)  # bad input takes the whole server down",
    # It stays up, but blames itself for the client's mistake: a 500 where a 4xx is due.
    "answers-500": "self.send_response(500); self.send_header('Content-Length', '0'); self.end_headers(); return",
}


def thin_image(base: str, tmp_path: Path, name: str, files: dict[str, str | Path], lines: list[str]) -> str:
    """An image of one thin layer on top of the built one (quick even on vfs): `files` copied in, `lines` added."""
    import docker

    context = tmp_path / name
    context.mkdir()
    for target, source in files.items():
        if isinstance(source, Path):
            shutil.copytree(source, context / target)
        else:
            (context / target).write_text(source)
    (context / "Dockerfile").write_text("\n".join([f"FROM {base}", *lines]) + "\n")
    image, _ = docker.from_env().images.build(
        path=str(context), network_mode="host", rm=True, tag=f"modelrail-test/{name}:1"
    )
    return image.id


def server_image(built, tmp_path: Path, behaviour: str) -> str:
    server = textwrap.dedent(SERVER).replace("ON_BAD_INPUT", ON_BAD_INPUT[behaviour])
    lines = ["COPY server.py /opt/server.py", 'CMD ["python3", "/opt/server.py"]']
    return thin_image(built[1], tmp_path, behaviour, {"server.py": server}, lines)


def test_a_server_that_crashes_on_bad_input_fails_smoke(built, tmp_path):
    repo, _, _ = built
    image = server_image(built, tmp_path, "crashing")
    proc = cli(repo, "containerize", "smoke", "--image", image, "--record", "gates/crashing.json", check=False)
    assert proc.returncode == 1, proc.stdout
    record = json.loads((repo / "gates/crashing.json").read_text())
    checks = {check["name"]: check for check in record["checks"]}
    assert checks["healthy"]["success"] and checks["predictions match the in-process model"]["success"]
    assert not checks["refuses columns the model does not know with a 4xx"]["success"]
    assert not checks["survives malformed requests"]["success"]
    assert "the server crashed" in proc.stderr


def test_a_server_that_answers_500_to_bad_input_fails_smoke(built, tmp_path):
    repo, _, _ = built
    image = server_image(built, tmp_path, "answers-500")
    proc = cli(repo, "containerize", "smoke", "--image", image, "--record", "gates/answers-500.json", check=False)
    assert proc.returncode == 1, proc.stdout
    record = json.loads((repo / "gates/answers-500.json").read_text())
    checks = {check["name"]: check for check in record["checks"]}
    assert record["passed"] is False
    assert checks["predictions match the in-process model"]["success"], "the golden sample is served right"
    assert checks["survives malformed requests"]["success"], "it stays up: only the status is wrong"
    for what in ("columns the model does not know", "an empty body"):
        check = checks[f"refuses {what} with a 4xx"]
        assert not check["success"] and check["details"]["status"] == 500, check
    assert "a server error, expected a 4xx" in proc.stderr


def test_an_image_serving_another_model_than_the_one_on_disk_fails_smoke(built, tmp_path):
    """The image's model answers in the suite's own classes, only flipped: the comparison alone can catch it."""
    import numpy as np
    import skops.io

    repo, image_id, _ = built
    model_dir = tmp_path / "swapped-model"
    shutil.copytree(repo / "models/model", model_dir)
    model_file = model_dir / "model.skops"
    model = skops.io.load(model_file, trusted=skops.io.get_untrusted_types(file=model_file))
    model.classes_ = np.array(model.classes_[::-1])
    skops.io.dump(model, model_file)
    image = thin_image(image_id, tmp_path, "swapped", {"model": model_dir}, ["COPY model /opt/model"])
    proc = cli(repo, "containerize", "smoke", "--image", image, "--record", "gates/swapped.json", check=False)
    assert proc.returncode == 1, proc.stdout
    record = json.loads((repo / "gates/swapped.json").read_text())
    failed = {check["name"] for check in record["checks"] if not check["success"]}
    assert failed == {"predictions match the in-process model"}, failed
    assert "predictions differ, e.g. row" in proc.stderr and "the in-process model" in proc.stderr
