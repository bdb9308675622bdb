"""The restore drill: restore the latest backup into scratch space (a volume of the drill's
own), start a throwaway server on it, run a verification query, and record the result on the
backup it restored, as pgBackRest annotations in the repository. The backup agent, in
another pod or container, reads them from there for its metrics (agent.py).

Exit code 0 when the restored server answered the query, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from prodstack_pg.environment import Paths, pgbackrest

# The annotations a drill leaves on the backup it restored.
SUCCESS, STARTED, DURATION = (
    "prodstack-drill-success",
    "prodstack-drill-at",
    "prodstack-drill-seconds",
)
DEFAULT_QUERY = "SELECT count(*) FROM pg_database WHERE datallowconn"


@dataclass
class DrillResult:
    success: bool
    started: float
    duration_seconds: float
    detail: str
    # The backup set restored (none when the repository had none).
    backup: str = ""

    def annotations(self) -> dict[str, str]:
        return {
            SUCCESS: "1" if self.success else "0",
            STARTED: f"{self.started:.3f}",
            DURATION: f"{self.duration_seconds:.3f}",
        }

    @classmethod
    def from_annotations(cls, backup: str, values: dict[str, str]) -> DrillResult | None:
        try:
            return cls(
                success=values[SUCCESS] == "1",
                started=float(values[STARTED]),
                duration_seconds=float(values[DURATION]),
                detail="",
                backup=backup,
            )
        except (KeyError, ValueError):
            return None


def latest_backup(paths: Paths) -> str:
    """The label of the newest backup in the repository ('' when there is none)."""
    listed = pgbackrest(paths, "--output=json", "info", timeout=300)
    try:
        backups = json.loads(listed.stdout)[0].get("backup", [])
    except (ValueError, IndexError):
        return ""
    return str(backups[-1]["label"]) if backups else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drill(paths: Paths, query: str = DEFAULT_QUERY, timeout_seconds: float = 3600) -> DrillResult:
    started = time.time()
    paths.scratch_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="drill-", dir=paths.scratch_dir))
    data, run = workdir / "data", workdir / "run"
    data.mkdir(mode=0o700)
    run.mkdir()
    port = _free_port()
    server_started = False
    backup = latest_backup(paths)
    try:
        if not backup:
            return _result(False, started, "the repository has no backup to restore")
        restore = pgbackrest(
            paths,
            f"--pg1-path={data}",
            f"--set={backup}",
            "--delta",
            "restore",
            timeout=timeout_seconds,
        )
        if restore.returncode != 0:
            return _result(
                False,
                started,
                f"restore failed: {_last_line(restore.stderr or restore.stdout)}",
                backup,
            )
        start = subprocess.run(
            [
                str(paths.bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-t",
                str(int(timeout_seconds)),
                "-l",
                str(workdir / "postgres.log"),
                "-o",
                f"-c config_file={paths.config_file} -c port={port} "
                f"-c unix_socket_directories={run} -c listen_addresses='' "
                # Its socket only: no TCP, so no TLS and no need for the server's key.
                "-c archive_mode=off -c shared_buffers=32MB -c ssl=off",
                "start",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        server_started = start.returncode == 0
        if not server_started:
            log = (
                (workdir / "postgres.log").read_text(errors="replace")
                if (workdir / "postgres.log").exists()
                else ""
            )
            return _result(
                False,
                started,
                f"restored server did not start: {_last_line(log or start.stderr)}",
                backup,
            )
        # It accepts connections while still replaying WAL: the drill counts once it has ended.
        wait_for_promotion(paths, port, run, deadline=started + timeout_seconds)
        answer = paths.psql(query, port=port, socket_dir=run)
        return _result(True, started, f"verification query answered {answer!r}", backup)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        return _result(False, started, str(error), backup)
    finally:
        if server_started:
            subprocess.run(
                [str(paths.bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for_promotion(paths: Paths, port: int, socket_dir: Path, deadline: float) -> None:
    while paths.psql("SELECT pg_is_in_recovery()", port=port, socket_dir=socket_dir) != "f":
        if time.time() > deadline:
            raise RuntimeError("the restored server did not finish recovery in time")
        time.sleep(0.5)


def _result(success: bool, started: float, detail: str, backup: str = "") -> DrillResult:
    return DrillResult(success, started, round(time.time() - started, 3), detail, backup)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def record(paths: Paths, result: DrillResult) -> bool:
    """Annotate the restored backup with the result; False when there was none to annotate
    or pgBackRest refused (the agent then reports no new drill, and its alert fires)."""
    if not result.backup:
        return False
    annotate = pgbackrest(
        paths,
        f"--set={result.backup}",
        *(f"--annotation={key}={value}" for key, value in result.annotations().items()),
        "annotate",
        timeout=300,
    )
    return annotate.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prodstack-restore-drill", description=__doc__)
    parser.add_argument("--query", default=DEFAULT_QUERY)
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    result = drill(paths, args.query)
    recorded = record(paths, result)
    print(json.dumps({**asdict(result), "recorded": recorded}), flush=True)
    return 0 if result.success and recorded else 1


if __name__ == "__main__":
    raise SystemExit(main())
