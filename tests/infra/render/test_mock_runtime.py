"""The mock runtime refuses what the Pulumi engine refuses, so that a program that works here
does not fail at its first `pulumi up`: two resources with one URN, and a dependency the
engine could not order (a cycle)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pulumi.runtime.proto import resource_pb2

from infra.render.mock_runtime import DependencyCycleError, RecordingMonitor, StackMocks
from tests.support import ROOT

# Each program runs in a process of its own: the SDK leaves the refused registrations'
# futures behind, which must not outlive the test into the suite's process.
RUN = """
import pulumi, pulumi_random as random
from infra.render.mock_runtime import DuplicateUrnError, run_program
from infra.render.stack_config import StackConfig

def program():
{body}
    return {{}}

try:
    run_program(StackConfig("prodstack", "dev"), program)
except DuplicateUrnError as error:
    print("refused:", error, flush=True)
import os
os._exit(0)  # not through interpreter teardown, with the refused registrations' threads
"""


def refused(body: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", RUN.format(body=body)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return next((line for line in result.stdout.splitlines() if line.startswith("refused")), "")


def test_two_resources_with_one_urn_are_refused() -> None:
    body = (
        "    random.RandomPassword('password', length=16)\n"
        "    random.RandomPassword('password', length=32)"
    )
    assert refused(body) == (
        "refused: Duplicate resource URN 'urn:pulumi:dev::prodstack::pulumi:pulumi:Stack"
        "$random:index/randomPassword:RandomPassword::password'; try giving it a unique name"
    )


def test_the_same_name_under_two_parents_of_one_type_is_one_urn() -> None:
    """A URN holds the parents' types, not their names: as in the engine, the second is
    refused (a component must give its children names of their own)."""
    body = (
        "    for parent in ('a', 'b'):\n"
        "        holder = pulumi.ComponentResource('prodstack:test:Holder', parent, None)\n"
        "        random.RandomPassword('password', length=16,"
        " opts=pulumi.ResourceOptions(parent=holder))"
    )
    assert "Holder$random:index/randomPassword:RandomPassword::password" in refused(body)


def test_a_dependency_the_engine_could_not_order_is_refused() -> None:
    monitor = RecordingMonitor(StackMocks())
    stack = "urn:pulumi:dev::prodstack::pulumi:pulumi:Stack::prodstack-dev"
    first = resource_pb2.RegisterResourceRequest(
        type="random:index/randomPassword:RandomPassword", name="a", parent=stack, custom=True
    )
    urn_a = monitor.make_urn(stack, first.type, "a")
    urn_b = monitor.make_urn(stack, first.type, "b")
    # a depends on b, which is registered after it (and which would depend on a): a cycle.
    first.dependencies.append(urn_b)
    with pytest.raises(DependencyCycleError, match="which is not registered before it"):
        monitor.RegisterResource(first)
    itself = resource_pb2.RegisterResourceRequest(
        type=first.type, name="a", parent=stack, custom=True, dependencies=[urn_a]
    )
    with pytest.raises(DependencyCycleError, match="depends on itself"):
        monitor.RegisterResource(itself)
