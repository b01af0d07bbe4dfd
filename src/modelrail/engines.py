"""Which engine a data gate runs on (pandas in this process, or Spark), and the one Spark session it uses.

pandas is the default: it needs nothing but this package. Spark is for data that outgrows one machine's memory; it
runs in local mode unless `spark.master` in modelrail.yaml names a cluster. pyspark is imported only here, and only
when the Spark engine is chosen.
"""

from __future__ import annotations

import os
import sys

from modelrail.errors import ConfigError

PANDAS, SPARK = "pandas", "spark"
ENGINES = (PANDAS, SPARK)
DEFAULT_MASTER = "local[*]"
# A gate is a short batch job: no web UI to bind a port for, and no per-core shuffle partitions for small data.
DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.session.timeZone": "UTC",
}


def choose(cli_engine: str | None, config: dict, section: str) -> str:
    """The engine from `--engine`, else from `<section>.engine` in modelrail.yaml, else pandas."""
    engine = cli_engine or config.get(section, {}).get("engine") or PANDAS
    if engine not in ENGINES:
        raise ConfigError(f"engine '{engine}' is not one of: {', '.join(ENGINES)}")
    return engine


def spark_session(config: dict):
    """The process's Spark session, started on first use with `spark:` from modelrail.yaml (master, conf)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        needs = "pip install 'modelrail[spark]' (and a Java 17 runtime)"
        raise ConfigError(f"engine 'spark' needs pyspark: {needs}") from None

    settings = config.get("spark", {})
    # Python workers (drift counts on them) must run this interpreter, with its pyarrow and modelrail, not the first
    # python3 on PATH; pyspark takes the workers' interpreter from this variable only (a cluster may set its own).
    if "PYSPARK_PYTHON" not in os.environ:
        os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = SparkSession.builder.appName("modelrail").master(settings.get("master", DEFAULT_MASTER))
    for key, value in {**DEFAULT_CONF, **settings.get("conf", {})}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and the JVM launcher raise several types; all mean Spark could not start
        reason = " ".join(str(exc).split())[:300]
        raise ConfigError(f"Spark did not start (is a Java 17 runtime installed?): {reason}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session
