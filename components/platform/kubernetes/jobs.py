"""A workload's release task (one Job per release) and scheduled jobs (CronJobs).

Their pods run as the workload (same account, files and network access) without serving:
they have no ports, so no Service sends them traffic.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.platform.kubernetes.controllers import checkov_skips
from components.platform.kubernetes.pods import pod_spec
from components.platform.kubernetes.scope import Scope
from components.platform.labels import TASK_LABEL
from components.workload import ReleaseTask, ScheduledJob

core = k8s.core.v1
meta = k8s.meta.v1
batch = k8s.batch.v1

RELEASE_JOB_TTL_SECONDS = 7 * 86400


def release_job(scope: Scope, task: ReleaseTask, after: Sequence[pulumi.Resource]) -> batch.Job:
    """Named after its release: a new release is a new Job, and the same release is never
    run twice. Pulumi awaits its completion and fails the update when it fails."""
    name = f"{scope.workload.name}-{task.name}"
    labels = {**scope.labels, TASK_LABEL: task.name}
    return batch.Job(
        name,
        metadata=meta.ObjectMetaArgs(
            name=task.release().apply(lambda release: f"{name}-{release}"),
            namespace=scope.namespace,
            labels=labels,
        ),
        spec=batch.JobSpecArgs(
            # A failed migration is for a person to read, not to run again on its own.
            backoff_limit=0,
            active_deadline_seconds=task.deadline_seconds,
            # Kept a week for its logs. If it is gone when `pulumi up --refresh` runs,
            # the release's migration runs again, which a migration must allow.
            ttl_seconds_after_finished=RELEASE_JOB_TTL_SECONDS,
            template=core.PodTemplateSpecArgs(
                metadata=meta.ObjectMetaArgs(labels=labels),
                spec=pod_spec(scope, (task.container,), restart_policy="Never"),
            ),
        ),
        opts=pulumi.ResourceOptions.merge(
            scope.opts,
            pulumi.ResourceOptions(
                depends_on=list(after),
                # Pulumi waits for the Job a little longer than the Job may run.
                custom_timeouts=pulumi.CustomTimeouts(
                    create=f"{task.deadline_seconds + 120}s",
                    update=f"{task.deadline_seconds + 120}s",
                ),
            ),
        ),
    )


def cron_job(scope: Scope, job: ScheduledJob) -> None:
    """Its pods carry the task label, so the workload's budget and its jobs' anti-affinity
    tell them from the serving pods."""
    name = f"{scope.workload.name}-{job.name}"
    labels = {**scope.labels, TASK_LABEL: job.name}
    metadata = scope.metadata(name)
    # Its pods run the workload's image as the workload's user: the same scanner waivers.
    waivers = [(v.check, v.reason) for v in scope.workload.scanner_waivers]
    metadata.annotations = checkov_skips(waivers) or None
    batch.CronJob(
        name,
        metadata=metadata,
        spec=batch.CronJobSpecArgs(
            schedule=job.schedule,
            concurrency_policy="Forbid",
            starting_deadline_seconds=300,
            successful_jobs_history_limit=3,
            failed_jobs_history_limit=3,
            job_template=batch.JobTemplateSpecArgs(
                spec=batch.JobSpecArgs(
                    backoff_limit=2,
                    active_deadline_seconds=job.deadline_seconds,
                    ttl_seconds_after_finished=86400,
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(labels=labels),
                        spec=pod_spec(
                            scope, (job.container,), restart_policy="Never", own_scratch=job.scratch
                        ),
                    ),
                )
            ),
        ),
        opts=scope.opts,
    )
