#!/usr/bin/python3
"""Entrypoint of the Kafka stand-in image: the official apache/kafka image's environment contract on plain jars.

As in the official image, every ``KAFKA_*`` variable (except the JVM option ones) is a broker property: the prefix
dropped, ``___`` → ``-``, ``__`` → ``_``, ``_`` → ``.``, lower case; ``CLUSTER_ID`` names the cluster (the
official image's default otherwise). The log directory is formatted once, then the broker replaces this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LIBS = "/opt/kafka/libs/*"
PROPERTIES = Path("/opt/kafka/config/server.properties")
# The official image's default cluster id and log directory.
DEFAULT_CLUSTER_ID = "5L6g3nShT-eMCtK--X86sw"
DEFAULTS = {
    "log.dirs": "/tmp/kraft-combined-logs",
    # The default 128 MiB dedupe buffer is allocated at start; a one-node demo broker needs far less.
    "log.cleaner.dedupe.buffer.size": "4194304",
}
JVM_VARIABLES = {"KAFKA_HEAP_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_GC_LOG_OPTS"}
HEAP = "-Xms256m -Xmx512m"
JVM = "-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 -Djava.awt.headless=true"


def property_name(variable: str) -> str:
    name = variable.removeprefix("KAFKA_")
    name = name.replace("___", "\0dash\0").replace("__", "\0underscore\0").replace("_", ".")
    return name.replace("\0dash\0", "-").replace("\0underscore\0", "_").lower()


def properties(environ: dict[str, str]) -> dict[str, str]:
    found = dict(DEFAULTS)
    for variable, value in environ.items():
        if variable.startswith("KAFKA_") and variable not in JVM_VARIABLES:
            found[property_name(variable)] = value
    return found


def main() -> None:
    PROPERTIES.parent.mkdir(parents=True, exist_ok=True)
    PROPERTIES.write_text("".join(f"{key}={value}\n" for key, value in sorted(properties(dict(os.environ)).items())))
    jvm = [*os.environ.get("KAFKA_HEAP_OPTS", HEAP).split(), *os.environ.get("KAFKA_JVM_PERFORMANCE_OPTS", JVM).split()]
    cluster_id = os.environ.get("CLUSTER_ID", DEFAULT_CLUSTER_ID)
    storage = ["kafka.tools.StorageTool", "format", "--ignore-formatted", "-t", cluster_id, "-c", str(PROPERTIES)]
    subprocess.run(["java", "-Xmx256m", "-cp", LIBS, *storage], check=True)
    sys.stdout.flush()
    os.execvp("java", ["java", *jvm, "-cp", LIBS, "kafka.Kafka", str(PROPERTIES)])


if __name__ == "__main__":
    main()
