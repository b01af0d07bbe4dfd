"""Containerize benchmark: the baked repo's image side by side with MLflow's own image for the same model.

MLflow's image comes from `mlflow models generate-dockerfile`, built the same way as ours: same base image, same
host-built wheelhouse (pip installs with --no-index), `--network=host`, the legacy builder. nginx is left out of
it (`DISABLE_NGINX=true`, no apt-get): it would need the network in the build, and the figures compare the Python
serving stacks. Needs the engine of infra/ (`eval "$(infra/docker-up.sh)"`, or this script runs it). Usage:
    .venv/bin/python benchmarks/containerize.py [--requests 200]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MLFLOW_PORT = 8000  # mlflow.models.container.DEFAULT_INFERENCE_SERVER_PORT
STARTS = 5  # start-to-healthy samples per image (the median is reported)


def engine_env() -> None:
    proc = subprocess.run([str(ROOT / "infra/docker-up.sh")], capture_output=True, text=True, check=True)
    for line in proc.stdout.splitlines():
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            os.environ[name] = value


def build(client, context: Path, tag: str, nocache: bool, buildargs: dict | None = None) -> tuple[str, float]:
    from modelrail.container import engine as docker_engine

    start = time.perf_counter()
    stream = client.api.build(
        path=str(context),
        tag=tag,
        buildargs=buildargs or {},
        network_mode="host",
        rm=True,
        nocache=nocache,
        decode=True,
    )
    chunks = docker_engine.follow(stream, f"build of {tag}", progress=False)
    seconds = time.perf_counter() - start
    image_id = next(c["aux"]["ID"] for c in reversed(chunks) if isinstance(c.get("aux"), dict) and "ID" in c["aux"])
    return image_id, seconds


def mlflow_context(repo: Path, work: Path, base_image: str) -> Path:
    """`mlflow models generate-dockerfile`, then the same base image and a wheelhouse instead of the network."""
    context = work / "mlflow-image"
    subprocess.run(
        [
            str(BIN / "mlflow"),
            "models",
            "generate-dockerfile",
            "-m",
            str(repo / "models/model"),
            "-d",
            str(context),
            "--env-manager",
            "local",
        ],
        check=True,
        capture_output=True,
    )
    import yaml

    # What MLflow's image installs: the model's requirements, python_env.yaml's build dependencies, gunicorn.
    python_env = yaml.safe_load((repo / "models/model/python_env.yaml").read_text())
    requirements = (repo / "models/model/requirements.txt").read_text().split() + python_env["build_dependencies"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--dest",
            str(context / "wheels"),
            *requirements,
            "gunicorn[gevent]",
        ],
        check=True,
    )
    instructions, current = [], []
    for line in (context / "Dockerfile").read_text().splitlines():
        current.append(line)
        if not line.endswith("\\"):
            instructions.append("\n".join(current))
            current = []
    kept = []
    for instruction in instructions:
        if "apt.conf.d" in instruction or "apt-get" in instruction:
            continue  # nginx: left out, see the module docstring
        if instruction.startswith("FROM "):
            instruction = (
                f"FROM {base_image}\nCOPY wheels /wheels\nRUN python3 -m venv /opt/venv\n"
                "ENV PATH=/opt/venv/bin:$PATH PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels DISABLE_NGINX=true"
            )
        kept.append(instruction)
    (context / "Dockerfile").write_text("\n".join(kept) + "\n")
    return context


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(client, image: str, port: int, environment: dict) -> tuple[object, float]:
    """Run on the host network (the benchmark measures over loopback from the host); time until /ping answers."""
    begin = time.perf_counter()
    container = client.containers.run(image, detach=True, network_mode="host", environment=environment)
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return container, time.perf_counter() - begin
        except OSError:
            pass
        if time.perf_counter() - begin > 300:
            container.remove(force=True)
            raise RuntimeError(f"{image} not healthy after 300s")
        time.sleep(0.05)


def latencies(port: int, body: bytes, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for _ in range(count + 5):
        begin = time.perf_counter()
        connection.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"/invocations answered {answer.status}")
        times.append(time.perf_counter() - begin)
    return times[5:]  # the first requests warm the server up


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def payload(frame) -> bytes:
    return json.dumps({"dataframe_split": {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}}).encode()


def touch_model(model_dir: Path) -> None:
    """A change of the model files (what a retrain or a code change of the model does to the build context)."""
    (model_dir / "CHANGED").write_text(f"{time.time()}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per latency figure (default: 200)")
    count = parser.parse_args().requests
    sys.path.insert(0, str(ROOT / "tests"))
    import mlflow.pyfunc
    import pandas as pd
    from support.template import bake, dvc

    from modelrail.container import engine as docker_engine
    from modelrail.container import wheelhouse
    from modelrail.container.build import build_args
    from modelrail.identity import load_artifact

    engine_env()
    client = docker_engine.connect()
    base = os.environ["MODELRAIL_BASE_IMAGE"]
    work = Path(tempfile.mkdtemp(prefix="modelrail-bench-containerize-"))
    repo = bake(work)
    dvc(repo, "repro")
    figures: dict[str, dict[str, float]] = {"ours": {}, "mlflow": {}}

    start_time = time.perf_counter()
    wheelhouse.build(repo, repo / "models/model", progress=False)
    wheel_seconds = time.perf_counter() - start_time
    args = {**build_args(load_artifact(repo), base)}
    ours, figures["ours"]["cold build s"] = build(client, repo, "bench/ours:1", nocache=True, buildargs=args)
    mlflow_dir = mlflow_context(repo, work, base)
    theirs, figures["mlflow"]["cold build s"] = build(client, mlflow_dir, "bench/mlflow:1", nocache=True)
    touch_model(repo / "models/model")
    touch_model(mlflow_dir / "model_dir/model")
    _, figures["ours"]["rebuild after model change s"] = build(client, repo, "bench/ours:2", False, args)
    _, figures["mlflow"]["rebuild after model change s"] = build(client, mlflow_dir, "bench/mlflow:2", False)
    figures["ours"]["image MB"] = client.images.get(ours).attrs["Size"] / 1e6
    figures["mlflow"]["image MB"] = client.images.get(theirs).attrs["Size"] / 1e6

    frame = pd.read_csv(repo / "data/prepared/test.csv").drop(columns=["target"])
    big = frame.sample(n=1000, replace=True, random_state=0)
    one, thousand = payload(frame.head(1)), payload(big)
    our_port = free_port()
    servers = {
        "ours": (ours, our_port, {"PORT": str(our_port)}),
        "mlflow": (theirs, MLFLOW_PORT, {"MLFLOW_MODELS_WORKERS": "1"}),
    }
    # Start-to-healthy alternates between the images, and each start waits for the disk to be idle (`sync`): the
    # builds above leave gigabytes of vfs layers to write back, which would slow whichever image started first.
    starts: dict[str, list[float]] = {name: [] for name in servers}
    for _ in range(STARTS):
        for name, (image, port, environment) in servers.items():
            os.sync()
            container, seconds = start(client, image, port, environment)
            starts[name].append(seconds)
            container.remove(force=True)
    for name, (image, port, environment) in servers.items():
        figures[name]["start to healthy s"] = statistics.median(starts[name])
        container, _ = start(client, image, port, environment)
        try:
            for label, body in (("1 row", one), ("1000 rows", thousand)):
                times = latencies(port, body, count if label == "1 row" else max(20, count // 4))
                figures[name][f"{label} p50 ms"] = percentile(times, 0.5) * 1000
                figures[name][f"{label} p99 ms"] = percentile(times, 0.99) * 1000
        finally:
            container.remove(force=True)

    model = mlflow.pyfunc.load_model(str(repo / "models/model"))
    floor: dict[str, float] = {}
    for label, rows in (("1 row", frame.head(1)), ("1000 rows", big)):
        times = []
        for _ in range(count if label == "1 row" else max(20, count // 4)):
            begin = time.perf_counter()
            model.predict(rows)
            times.append(time.perf_counter() - begin)
        floor[f"{label} p50 ms"] = percentile(times, 0.5) * 1000
        floor[f"{label} p99 ms"] = percentile(times, 0.99) * 1000

    print(f"wheelhouse download (host pip, cached after the first run): {wheel_seconds:.1f} s")
    for name, samples in starts.items():
        print(f"start to healthy samples, {name}: {', '.join(f'{value:.1f}' for value in samples)} s")
    print(f"{'figure':34} {'ours':>10} {'mlflow':>10} {'ours/mlflow':>12} {'in-process':>11}")
    for key in figures["ours"]:
        mine, theirs_value = figures["ours"][key], figures["mlflow"][key]
        extra = f"{floor[key]:>11.2f}" if key in floor else ""
        print(f"{key:34} {mine:>10.2f} {theirs_value:>10.2f} {mine / theirs_value:>12.2f} {extra}")
    goals = [
        ("image smaller than half of MLflow's", figures["ours"]["image MB"] / figures["mlflow"]["image MB"], 0.5),
        (
            "healthy in under half MLflow's time",
            figures["ours"]["start to healthy s"] / figures["mlflow"]["start to healthy s"],
            0.5,
        ),
        ("1-row p50 no slower than MLflow's", figures["ours"]["1 row p50 ms"] / figures["mlflow"]["1 row p50 ms"], 1.0),
    ]
    for goal, ratio, limit in goals:
        met = ratio <= limit if limit == 1.0 else ratio < limit
        print(f"goal: {goal}: ratio {ratio:.2f} (limit {limit}) {'met' if met else 'NOT met'}")
    shutil.rmtree(work, ignore_errors=True)
    if re.search(r"bench/", " ".join(tag for image in client.images.list() for tag in image.tags)):
        for tag in ("bench/ours:1", "bench/ours:2", "bench/mlflow:1", "bench/mlflow:2"):
            client.images.remove(tag, noprune=True)


if __name__ == "__main__":
    main()
