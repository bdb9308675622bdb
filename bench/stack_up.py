"""How long the dev stack takes to come up on this host's Docker engine, as the end-to-end
suite brings it up (tests/e2e): from an engine without the stack's images (every image built
from Debian's packages, debootstrap included) with --cold, and from cached images.

    python bench/stack_up.py [--cold] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from infra.ops.debian_images import REPOSITORY, ROOTFS, build_all
from tests.e2e.stack import running_stack

OWN_REPOSITORIES = (REPOSITORY, "prodstack-api", "prodstack-postgres")


def remove_stack_images() -> None:
    listed = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    doomed = [i for i in listed if i.startswith(OWN_REPOSITORIES) or i == ROOTFS]
    if doomed:
        subprocess.run(["docker", "image", "rm", "-f", *doomed], capture_output=True, check=True)
    subprocess.run(["docker", "builder", "prune", "-af"], capture_output=True, check=False)


def one_round() -> tuple[float, float, float]:
    """Seconds to build (or find) the images, to bring the stack up healthy, and in all."""
    started = time.monotonic()
    build_all(log=lambda _: None)
    built = time.monotonic()
    with running_stack() as stack:
        healthy = stack.seconds_to_healthy
    return built - started, healthy, built - started + healthy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="first remove the stack's images")
    parser.add_argument("--rounds", type=int, default=2, help="rounds from cached images")
    args = parser.parse_args()
    if args.cold:
        remove_stack_images()
        build, up, total = one_round()
        print(
            f"empty engine -> all healthy: {total:.1f} s "
            f"(Debian images {build:.1f} s, debootstrap included; the project's images and containers {up:.1f} s)"
        )
    ups = [one_round()[1] for _ in range(args.rounds)]
    print(
        f"cached images -> all healthy: median {statistics.median(ups):.1f} s "
        f"(min {min(ups):.1f}, max {max(ups):.1f}, {len(ups)} rounds)"
    )


if __name__ == "__main__":
    main()
