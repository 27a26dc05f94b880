"""Apache Kafka in KRaft mode from its Maven Central jars: fetch, format, start, stop."""

from __future__ import annotations

import logging
import shutil
import subprocess
from importlib import resources

from streamapp.errors import StackError
from streamapp.settings import Settings
from streamapp.stack.process import port_open, read_pid, spawn, stop_pid, wait_until

log = logging.getLogger(__name__)

KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
READY_TIMEOUT = 90.0
# The collector settings Kafka's own start script gives a broker (kafka-run-class.sh), as
# the production image has them. G1's default pause goal (200 ms) let the embedded broker
# stop for 24-37 ms every ~9 s under 1,000 live quotes/s, its collector threads on both
# cores: every client on the machine waited, a worker's live quotes too. With a 20 ms
# goal it stops more often for less (at most 17-20 ms; end to end no difference beyond the
# runs' spread: README, Benchmark, "Where the live tail came from").
BROKER_GC = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",  # (Java 17's default already; kept as the script has it)
)


class EmbeddedKafka:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack_dir / "kafka"
        self.jars = self.home / f"jars-{settings.kafka_version}"
        self.data = self.home / "data"
        self._log_start = 0  # where the log stood when this stack last started the broker
        self.config = self.home / "server.properties"
        self.log_file = self.home / "broker.log"
        self.pid_file = self.home / "broker.pid"

    # -- prerequisites ---------------------------------------------------------------
    @staticmethod
    def _require(tool: str, package: str) -> str:
        path = shutil.which(tool)
        if path is None:
            raise StackError(
                f"`{tool}` was not found on PATH; the embedded Kafka needs it. "
                f"Install {package} (e.g. `apt-get install {package}`), or point "
                "STREAMAPP_BROKER at a running Kafka and skip `streamapp stack up`."
            )
        return path

    def fetch_jars(self) -> None:
        """Resolve kafka_2.13 and its runtime dependencies with Maven, once."""
        if (self.jars / ".complete").exists():
            return
        mvn = self._require("mvn", "maven")
        self._require("java", "openjdk-17-jre-headless")
        self.jars.mkdir(parents=True, exist_ok=True)
        pom = resources.files("streamapp.stack") / "pom.xml"
        log.info(
            "fetching Apache Kafka %s jars with Maven into %s",
            self.settings.kafka_version,
            self.jars,
        )
        with resources.as_file(pom) as pom_path:
            result = subprocess.run(
                [
                    mvn,
                    "-q",
                    "-B",
                    "-f",
                    str(pom_path),
                    f"-Dkafka.version={self.settings.kafka_version}",
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={self.jars}",
                    "-DincludeScope=runtime",
                ],
                capture_output=True,
                text=True,
            )
        if result.returncode != 0:
            raise StackError(
                "Maven could not fetch the Kafka jars (is Maven Central reachable?):\n"
                + (result.stdout + result.stderr)[-3000:]
            )
        (self.jars / ".complete").touch()

    def _write_config(self) -> None:
        s = self.settings
        self.config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{s.kafka_controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},"
                    f"CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.data}",
                    f"num.partitions={s.topic_partitions}",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "log.retention.hours=-1",
                    f"message.max.bytes={s.max_message_bytes}",
                    "",
                ]
            )
        )

    def _java(self) -> list[str]:
        java = self._require("java", "openjdk-17-jre-headless")
        log4j = resources.files("streamapp.stack") / "log4j2.xml"
        return [
            java,
            f"-Xmx{self.settings.kafka_heap}",
            f"-Xms{self.settings.kafka_heap}",
            *BROKER_GC,
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{self.jars}/*",
        ]

    def _format_storage(self) -> None:
        if (self.data / "meta.properties").exists():
            return
        java = self._java()
        cluster_id = (
            subprocess.run(
                [*java, STORAGE_TOOL, "random-uuid"], capture_output=True, text=True, check=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        result = subprocess.run(
            [*java, STORAGE_TOOL, "format", "-t", cluster_id, "-c", str(self.config)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    # -- lifecycle -------------------------------------------------------------------
    def status(self) -> str:
        pid = read_pid(self.pid_file)
        if pid and port_open(self.settings.kafka_port):
            return f"running (pid {pid}, 127.0.0.1:{self.settings.kafka_port})"
        if pid:
            return f"starting (pid {pid})"
        if port_open(self.settings.kafka_port):
            return f"port {self.settings.kafka_port} is held by another process"
        return "stopped"

    def up(self) -> None:
        pid = read_pid(self.pid_file)
        if pid and port_open(self.settings.kafka_port):
            log.info("Kafka already running (pid %d)", pid)
            return
        if not pid and port_open(self.settings.kafka_port):
            raise StackError(
                f"port {self.settings.kafka_port} is in use by a process this stack did not "
                "start; stop it, or set STREAMAPP_KAFKA_PORT and STREAMAPP_BROKER to another port."
            )
        self.fetch_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._format_storage()
        if not pid:
            log.info(
                "starting Kafka %s (KRaft) on 127.0.0.1:%d",
                self.settings.kafka_version,
                self.settings.kafka_port,
            )
            # The log is appended to: only what this start writes can say it started.
            self._log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
            spawn([*self._java(), KAFKA_MAIN, str(self.config)], self.log_file, self.pid_file)
        wait_until(self._ready, READY_TIMEOUT, "Kafka", self.log_file)
        log.info("Kafka ready; log: %s", self.log_file)

    def _ready(self) -> bool:
        if not read_pid(self.pid_file):
            raise StackError(f"Kafka exited during start; see {self.log_file}")
        if not port_open(self.settings.kafka_port):
            return False
        # From where this start began, not the log's tail: a restart with many partitions
        # writes far more than a tail's worth after the line (the broker-restart test
        # waited 90 s for a broker that had started in 11).
        with open(self.log_file, "rb") as log_text:
            log_text.seek(self._log_start)
            return b"Kafka Server started" in log_text.read()

    def down(self) -> None:
        pid = read_pid(self.pid_file)
        if pid:
            log.info("stopping Kafka (pid %d)", pid)
            stop_pid(pid, timeout=60)
        self.pid_file.unlink(missing_ok=True)

    def wipe(self) -> None:
        """Delete the broker's data: every topic, offset and changelog."""
        self.down()
        shutil.rmtree(self.data, ignore_errors=True)
