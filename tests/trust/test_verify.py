"""`modelrail verify`: integrity of DVC outputs against dvc.lock, and every gate re-derived from the content.

Bad inputs on tiny hand-made repositories first; then a baked repository after `dvc repro`: the honest state
verifies, and the issue's attack 1 (a raw value of -999 with the committed gate records restored, `dvc add`,
`dvc commit -f`, commit) is refused, naming the forged gate. Attack 3 (other bytes under the same md5 path in the
DVC remote) is refused after a fresh clone's `dvc pull`, before any build.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from support.template import BIN, bake, dvc, run

from modelrail.cli import main
from modelrail.layout import Layout
from modelrail.trust import integrity, verify

GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@t"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def tiny(workdir) -> Path:
    """A git repo whose dvc.lock records one data file and one gate stage, and whose bytes match it."""
    (workdir / ".dvc").mkdir()
    (workdir / ".dvc/config").write_text("[core]\n    no_scm = true\n")
    (workdir / "data.csv").write_text("a\n1\n")
    (workdir / "suite.json").write_text("{}")
    (workdir / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "copy": {"cmd": "cp data.csv copy.csv", "deps": ["data.csv"], "outs": ["copy.csv"]},
                    "gate": {
                        "cmd": "modelrail gate data --data copy.csv --suite suite.json --record gates/g.json",
                        "deps": ["copy.csv", "suite.json"],
                        "outs": [{"gates/g.json": {"cache": False}}],
                    },
                }
            }
        )
    )
    lock = {
        "schema": "2.0",
        "stages": {"copy": {"cmd": "cp", "outs": [{"path": "data.csv", "hash": "md5", "md5": md5(b"a\n1\n")}]}},
    }
    (workdir / "dvc.lock").write_text(yaml.safe_dump(lock))
    git(workdir, "init", "-q")
    git(workdir, "add", ".")
    git(workdir, "commit", "-qm", "tiny")
    return workdir


def test_without_dvc_lock_verify_says_to_run_the_pipeline(tiny, capsys):
    (tiny / "dvc.lock").unlink()
    assert main(["verify"]) == 2
    assert "dvc.lock: no such file" in capsys.readouterr().err


def test_an_unknown_stage_is_named_with_the_stages_there_are(tiny, capsys):
    assert main(["verify", "--stage", "nope"]) == 2
    err = capsys.readouterr().err
    assert "dvc.yaml: no stage 'nope'" in err and "copy, gate" in err


def test_a_stage_that_is_not_a_gate_is_refused(tiny, capsys):
    assert main(["verify", "--stage", "copy"]) == 2
    assert "stage 'copy' is not a gate" in capsys.readouterr().err


def test_a_file_that_does_not_hash_to_dvc_lock_is_named_with_both_hashes(tiny, capsys):
    (tiny / "data.csv").write_text("a\n-999\n")
    assert main(["verify"]) == 1
    captured = capsys.readouterr()
    expected, actual = md5(b"a\n1\n"), md5(b"a\n-999\n")
    assert f"data.csv: dvc.lock (stage copy) records md5 {expected}, the work tree hashes to {actual}" in captured.err
    record = json.loads((tiny / "gates/verify.json").read_text())
    assert record["passed"] is False and record["checks"][0]["file"] == "data.csv"
    with pytest.raises(integrity.IntegrityError, match=r"data\.csv"):
        integrity.require_outputs_match_lock(tiny, ["data.csv"])


def test_a_missing_output_and_a_lock_without_stages_are_clear(tiny, capsys):
    (tiny / "data.csv").unlink()
    assert main(["verify"]) == 1
    assert "data.csv: dvc.lock (stage copy) records md5" in capsys.readouterr().err
    assert "is missing (run \\`dvc pull\\`" in (tiny / "gates/verify.md").read_text()
    (tiny / "dvc.lock").write_text("schema: '2.0'\n")
    assert main(["verify"]) == 2
    assert "dvc.lock: no 'stages' mapping" in capsys.readouterr().err


def test_dvc_lock_and_a_dvc_file_that_disagree_are_refused(tiny, capsys):
    (tiny / "data.csv.dvc").write_text(yaml.safe_dump({"outs": [{"path": "data.csv", "md5": "0" * 32}]}))
    git(tiny, "add", "data.csv.dvc")
    assert main(["verify"]) == 1
    assert "data.csv.dvc records md5 0000" in capsys.readouterr().err


def test_a_dvc_file_moved_but_not_committed_says_to_commit_the_move(tiny, capsys):
    (tiny / "data.csv.dvc").write_text(yaml.safe_dump({"outs": [{"path": "data.csv", "md5": md5(b"a\n1\n")}]}))
    git(tiny, "add", "data.csv.dvc")
    (tiny / "data.csv.dvc").rename(tiny / "moved.csv.dvc")  # what `dvc move` leaves before the commit
    assert main(["verify"]) == 2
    err = capsys.readouterr().err
    assert "data.csv.dvc: git tracks this .dvc file but it is gone (fix: commit its move or removal)" in err


def test_a_gate_that_cannot_run_when_re_derived_fails_with_its_error(tiny, capsys):
    # suite.json is `{}`: the gate exits 2 (configuration) in the scratch copy, after the copy stage ran there.
    assert main(["verify"]) == 1
    err = capsys.readouterr().err
    assert "stage gate failed when re-run:" in err and "suite.json" in err
    assert not (tiny / "copy.csv").exists(), "a re-run stage wrote into the work tree"


def test_differences_name_the_check_and_the_column():
    old = {"passed": True, "checks": [{"name": "expect_min", "column": "age", "success": True}]}
    new = {"passed": False, "checks": [{"name": "expect_min", "column": "age", "success": False}]}
    assert verify._differences(old, new) == ["passed: true -> false", "checks[expect_min age].success: true -> false"]


def test_the_plan_stops_at_the_layout_s_model_but_never_skips_a_gate():
    stages = [
        verify.Stage("prepare", "python prep.py", ["in/raw.csv"], ["in/train.csv"]),
        verify.Stage("fit", "python fit.py", ["in/train.csv"], ["out/model"]),
        verify.Stage("evaluate", "python ev.py", ["out/model"], ["out/metrics.json"]),
        verify.Stage("model_gate", "modelrail gate model --metrics m.json", ["out/metrics.json"], ["g/m.json"]),
    ]
    names = [stage.name for stage in verify.plan(stages, Layout(model="out/model"))]
    assert names == ["evaluate", "model_gate"]
    # A pull request pointing paths.model at the gate's own record does not take the gate out of the re-derivation.
    names = [stage.name for stage in verify.plan(stages, Layout(model="g/m.json"))]
    assert names == ["prepare", "fit", "evaluate", "model_gate"]


# ---------------------------------------------------------------- a baked repository after `dvc repro`


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    repo = bake(tmp_path_factory.mktemp("verify"))
    dvc(repo, "repro")
    dvc(repo, "push")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Run the pipeline")
    return repo


def modelrail(repo: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess:
    return run([str(BIN / "modelrail"), *args], repo, check=check)


@pytest.mark.bake
def test_the_honest_pipeline_verifies_and_nothing_is_rewritten(trained):
    proc = modelrail(trained, "verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((trained / "gates/verify.json").read_text())
    names = [check["name"] for check in record["checks"]]
    assert names == ["integrity", "re-derive raw_gate", "re-derive feature_gate", "re-derive model_gate"]
    assert record["inputs"]["stages"] == ["raw_gate", "prepare", "feature_gate", "evaluate", "model_gate"]
    assert git(trained, "status", "--porcelain") == "", "verify changed the work tree"


@pytest.mark.bake
def test_attack_1_a_forged_raw_gate_record_is_refused(trained, tmp_path):
    repo = Path(shutil.copytree(trained, tmp_path / "forged", symlinks=True))
    raw = repo / "data/raw/breast_cancer.csv"
    lines = raw.read_text().splitlines()
    lines[5] = "-999," + lines[5].split(",", 1)[1]
    raw.write_text("\n".join(lines) + "\n")
    assert dvc(repo, "repro", check=False).returncode != 0, "the raw gate let -999 through"
    git(repo, "checkout", "--", "gates/")
    dvc(repo, "add", "data/raw/breast_cancer.csv")
    dvc(repo, "commit", "-f")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Nothing to see")
    assert "up to date" in dvc(repo, "status").stdout

    since = str(int(time.time()) - 1)
    proc = modelrail(repo, "verify")
    assert proc.returncode == 1, proc.stdout
    assert "gates/raw.json is not what gate raw_gate computes from the content: passed: true -> false" in proc.stderr
    assert "mean_radius" in proc.stderr
    # The work tree now holds the record this job computed, so the report cannot call the raw gate passed.
    assert json.loads((repo / "gates/raw.json").read_text())["passed"] is False
    report = modelrail(repo, "report", "--out", "report.md", "--since", since)  # as the validate action runs it
    assert report.returncode == 1
    assert "## modelrail: ❌ raw, verify gate failed" in report.stdout and "| ✅ | raw |" not in report.stdout


@pytest.mark.bake
def test_attack_3_other_bytes_in_the_dvc_remote_are_refused_after_a_fresh_clone(trained, docker_infra):
    lock = yaml.safe_load((trained / "dvc.lock").read_text())
    model_md5 = next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "models/model")
    remote = trained.parent / f"{trained.name}-dvc-remote"  # the default answer: next to the repository
    listing = json.loads((remote / "files/md5" / model_md5[:2] / model_md5[2:]).read_text())
    mlmodel = next(entry["md5"] for entry in listing if entry["relpath"] == "MLmodel")
    obj = remote / "files/md5" / mlmodel[:2] / mlmodel[2:]
    original = obj.read_bytes()
    assert b"skops_trusted_types:" in original
    obj.chmod(0o644)
    obj.write_bytes(original.replace(b"skops_trusted_types:", b"skops_trusted_types:\n    - builtins.eval", 1))
    clone = trained.parent / "fresh-clone"  # a sibling, so the remote's relative path holds
    try:
        git(trained.parent, "clone", "-q", str(trained), str(clone))
        dvc(clone, "pull")
        assert b"builtins.eval" in (clone / "models/model/MLmodel").read_bytes(), "dvc pull refused it already"
        for command in (["verify"], ["containerize", "build"]):
            proc = modelrail(clone, *command)
            assert proc.returncode == 1, proc.stdout + proc.stderr
            assert f"models/model: dvc.lock (stage train) records md5 {model_md5}" in proc.stderr, command
        assert "not what dvc.lock records" in proc.stderr and "Step 1/" not in proc.stdout, "it built"
    finally:
        obj.write_bytes(original)
        shutil.rmtree(clone, ignore_errors=True)
