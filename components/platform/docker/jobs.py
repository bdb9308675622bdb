"""Release tasks and scheduled jobs on Docker, which has neither a Job nor a CronJob.

A release task (a migration) is a one-shot container Pulumi waits for; a scheduled job is a
sidecar that runs it on its schedule with prodstack-cron (images/scripts/cron_runner.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pulumi
import pulumi_docker as docker

from components.cron import RUNNER
from components.platform.docker.containers import hardened
from components.platform.docker.files import files
from components.platform.docker.network import CLIENT
from components.platform.docker.scope import Scope
from components.platform.labels import TASK_LABEL
from components.workload import (
    CONFIG_DIR,
    Checks,
    Container,
    File,
    Probe,
    ReleaseTask,
    ScheduledJob,
)

CRON_RUNNER_FILE = "prodstack-cron.py"


class ReleaseTaskError(RuntimeError):
    """A release task (a migration) exited non-zero: the release stops before the rollout."""


def release_gate(
    scope: Scope,
    task: ReleaseTask,
    after: Sequence[pulumi.Resource],
) -> pulumi.Output[str]:
    """Run the release task once, as a one-shot container that Pulumi waits for, and
    return its release once it exited 0. A failure raises here, so the workload's
    containers are never registered with the new release: the old ones keep serving."""
    spec = task.container
    name = scope.resource_name(task.name)
    task_files = files(scope, spec)
    task_labels = [*scope.labels, docker.ContainerLabelArgs(label=TASK_LABEL, value=task.name)]
    one_shot = docker.Container(
        name,
        **hardened(scope, spec, name, {}, task_files, task_labels),
        # Runs to completion: Pulumi attaches, waits for the exit and records its code.
        restart="no",
        must_run=False,
        attach=True,
        logs=True,
        healthcheck=docker.ContainerHealthcheckArgs(tests=["NONE"]),
        networks_advanced=scope.attachments(CLIENT),
        network_mode=scope.network_mode(CLIENT),
        opts=pulumi.ResourceOptions.merge(
            scope.opts,
            pulumi.ResourceOptions(
                depends_on=[*after, *([task_files.carrier] if task_files else [])],
                # Its name is fixed, so the next release's container replaces it in turn.
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create=f"{task.deadline_seconds + 120}s"),
            ),
        ),
    )
    workload = scope.workload.name

    def succeeded(release: str, exit_code: int | None) -> str:
        if exit_code != 0:
            raise ReleaseTaskError(
                f"{workload}: the {task.name} task of release {release} exited with "
                f"{exit_code}; {workload} was not rolled out. Its output: `docker logs {name}`"
            )
        return release

    return pulumi.Output.all(task.release(), one_shot.exit_code).apply(
        lambda values: succeeded(values[0], values[1])
    )


def scheduler_sidecar(job: ScheduledJob) -> Container:
    """A job as a sidecar that runs it on its schedule, the runner delivered as a file."""
    runner = f"{CONFIG_DIR}/{CRON_RUNNER_FILE}"
    alive = Probe(command=("python3", runner, "--health"), period_seconds=10)
    job_command = (*job.container.command, *job.container.args)
    return replace(
        job.container,
        name=f"{job.name}-cron",
        command=("python3", runner),
        args=(
            "--schedule",
            job.schedule,
            "--deadline-seconds",
            str(job.deadline_seconds),
            "--",
            *job_command,
        ),
        config_files=(*job.container.config_files, File(CRON_RUNNER_FILE, runner_source())),
        checks=Checks.always(alive),
    )


def runner_source() -> str:
    return RUNNER.read_text()
