"""The restore drill: restore the latest backup into scratch space, start a throwaway server
on it, run a verification query, and record the result for the backup agent's metrics.

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

RESULT_FILE = "restore-drill.json"
DEFAULT_QUERY = "SELECT count(*) FROM pg_database WHERE datallowconn"


@dataclass
class DrillResult:
    success: bool
    started: float
    duration_seconds: float
    detail: str


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
    try:
        restore = pgbackrest(
            paths, f"--pg1-path={data}", "--delta", "restore", timeout=timeout_seconds
        )
        if restore.returncode != 0:
            return _result(
                False, started, f"restore failed: {_last_line(restore.stderr or restore.stdout)}"
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
                "-c archive_mode=off -c shared_buffers=32MB",
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
                False, started, f"restored server did not start: {_last_line(log or start.stderr)}"
            )
        # It accepts connections while still replaying WAL: the drill counts once it has ended.
        wait_for_promotion(paths, port, run, deadline=started + timeout_seconds)
        answer = paths.psql(query, port=port, socket_dir=run)
        return _result(True, started, f"verification query answered {answer!r}")
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        return _result(False, started, str(error))
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


def _result(success: bool, started: float, detail: str) -> DrillResult:
    return DrillResult(success, started, round(time.time() - started, 3), detail)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def record(paths: Paths, result: DrillResult) -> None:
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    target = paths.state_dir / RESULT_FILE
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(result)))
    temporary.replace(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prodstack-restore-drill", description=__doc__)
    parser.add_argument("--query", default=DEFAULT_QUERY)
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    result = drill(paths, args.query)
    record(paths, result)
    print(json.dumps(asdict(result)), flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
