"""The `prodstack` command: offline render and check of a stack (no Pulumi CLI needed),
the smoke test of a deployed one, ephemeral test stacks, and game days on a running one."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from infra.ops.ephemeral_config import DEFAULT_TTL
from infra.render.kubernetes_schema import DEFAULT_VERSION
from infra.render.stack_config import MissingStackFileError, StackConfigError
from infra.settings import SettingsError

# Exit codes, for every command: 0 done (the check passed); 1 the stack is invalid or fails a
# check, reported on standard output with everything else the command says; 2 the command
# could not run (no project, no stack file, a missing tool), said on standard error.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_COULD_NOT_RUN = 2


class CouldNotRunError(Exception):
    """Nothing was checked or done: exit 2, the reason on standard error."""


def _project_root(start: Path) -> Path:
    for directory in (start, *start.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    raise CouldNotRunError(f"no Pulumi.yaml in {start} or above; run from the project")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prodstack", description=__doc__)
    parser.add_argument("--root", type=Path, default=None, help="project directory")
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render a stack's resources and files")
    render.add_argument("--stack", required=True)
    render.add_argument("--out", type=Path, default=None, help="default: rendered/<stack>")
    check = commands.add_parser("check", help="render, validate and report; non-zero on error")
    check.add_argument("--stack", required=True)
    check.add_argument("--out", type=Path, default=None, help="keep the rendered files here")
    check.add_argument(
        "--kubernetes-version",
        default=None,
        help=f"schema version to validate for (default: kubernetes.schemaVersion, {DEFAULT_VERSION})",
    )
    check.add_argument(
        "--policy-config",
        type=Path,
        default=None,
        help="a --policy-pack-config file (default: the stack environment's levels, "
        "policies/config/<environment>.json)",
    )
    check.add_argument(
        "--preview",
        action="store_true",
        help="run the program as the first `pulumi preview` of a new stack does: every value "
        "a provider computes (IDs, generated secrets, keys, digests) unknown",
    )
    commands.add_parser(
        "policies-doc", help="write docs/policies.md and policies/config/*.json from the pack"
    )
    docs = commands.add_parser("settings-doc", help="write docs/settings.md from the model")
    docs.add_argument("--out", type=Path, default=None)
    smoke = commands.add_parser(
        "smoke", help="check a deployed stack's public endpoint; non-zero when a check fails"
    )
    smoke.add_argument("--url", required=True, help="the public URL, like https://api.example.com")
    smoke.add_argument("--ca", type=Path, default=None, help="CA to trust (dev, ephemeral)")
    smoke.add_argument(
        "--http-url", default=None, help="where plain HTTP is served (default: the host, port 80)"
    )
    smoke.add_argument("--health-path", default="/health/live")
    smoke.add_argument("--auth-path", default="/api/auth/login", help="a rate-limited route")
    smoke.add_argument(
        "--min-days", type=int, default=14, help="fewest days the certificate must still be valid"
    )
    ephemeral = commands.add_parser(
        "ephemeral", help="create or destroy a test stack derived from dev (Pulumi Automation API)"
    )
    actions = ephemeral.add_subparsers(dest="action", required=True)
    for action, text in (
        ("up", "create or update ephemeral-NAME, then smoke-test it"),
        ("down", "destroy every resource of ephemeral-NAME and remove the stack"),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("name", help="like pr-123; the stack is ephemeral-NAME")
        sub.add_argument(
            "--logged-in",
            action="store_true",
            help="use the backend of `pulumi login` (default: the local file backend)",
        )
        if action == "up":
            sub.add_argument(
                "--ttl", default=DEFAULT_TTL, help=f"when it expires: 90m, 4h, 2d ({DEFAULT_TTL})"
            )
            sub.add_argument("--no-smoke", action="store_true", help="skip the smoke test")
    listing = actions.add_parser("list", help="every ephemeral stack: expiry, age, state")
    listing.add_argument("--json", action="store_true", help="as JSON")
    reaping = actions.add_parser(
        "reap", help="destroy and remove every expired ephemeral stack (a dry run without --yes)"
    )
    reaping.add_argument("--yes", action="store_true", help="destroy, not just say what would be")
    reaping.add_argument(
        "--dry-run", action="store_true", help="only say what would be destroyed (the default)"
    )
    reaping.add_argument(
        "--orphans",
        action="store_true",
        help="also remove, on this Docker host, what an expired stack left without state",
    )
    for sub in (listing, reaping):
        sub.add_argument(
            "--logged-in",
            action="store_true",
            help="use the backend of `pulumi login` (default: the local file backend)",
        )
    gameday = commands.add_parser(
        "gameday",
        help="break a running Docker stack on purpose and measure its recovery against "
        "recovery.*; non-zero when a target is missed",
    )
    gameday.add_argument("--stack", help="the stack (its Pulumi.<stack>.yaml)")
    gameday.add_argument(
        "--drill",
        action="append",
        default=None,
        help="a drill to run (repeat it for several; default: every drill not marked long)",
    )
    gameday.add_argument("--list", action="store_true", help="list the drills and stop")
    gameday.add_argument(
        "--yes", action="store_true", help="a protected stack: yes, break the named drills"
    )
    gameday.add_argument("--ca", type=Path, default=None, help="CA to trust (dev, ephemeral)")
    gameday.add_argument("--json", action="store_true", help="the results as JSON")
    images = commands.add_parser(
        "images", help="build every image of the Docker stack from Debian's packages"
    )
    images.add_argument(
        "source",
        choices=["debian"],
        help="debian: debootstrap and Debian's packages (a host without a registry)",
    )
    return parser


def debian_images() -> int:
    """Build what is missing and print the stack config that points a stack at the images."""
    import yaml

    from infra.ops.debian_images import ImageBuildError, build_all, overrides

    try:
        tags = build_all()
    except (ImageBuildError, FileNotFoundError) as error:
        print(f"prodstack: {error}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    config = {f"prodstack:{group}": values for group, values in overrides(tags).items()}
    print("# Add to Pulumi.<stack>.yaml (merge with the groups the file already has):")
    print(yaml.safe_dump({"config": config}, sort_keys=True), end="")
    return 0


def ephemeral(args: argparse.Namespace, root: Path) -> int:
    import shutil

    # Before anything touches the backend (the local one lives in the home directory).
    if shutil.which("pulumi") is None:
        raise CouldNotRunError(
            "ephemeral stacks need the Pulumi CLI: install the Pulumi CLI from "
            "https://www.pulumi.com/docs/install/"
        )
    from pulumi import automation as auto

    from infra.ops import ephemeral as stacks

    backend = stacks.from_environment(args.logged_in)
    try:
        if args.action == "up":
            return stacks.up(root, args.name, args.ttl, backend, smoke=not args.no_smoke)
        if args.action in ("list", "reap"):
            import datetime as dt

            from infra.ops import reaper

            now = dt.datetime.now(dt.UTC)
            if args.action == "list":
                return reaper.list_command(root, backend, args.json, print, now)
            act = args.yes and not args.dry_run
            orphans = reaper.docker_orphans if args.orphans else None
            return reaper.reap(root, backend, act, print, now, orphans)
        return stacks.down(root, args.name, backend)
    except FileNotFoundError as error:
        print(
            f"prodstack: {error.filename or 'pulumi'} not found: install the Pulumi CLI "
            "(https://www.pulumi.com/docs/install/)",
            file=sys.stderr,
        )
        return EXIT_COULD_NOT_RUN
    except auto.CommandError as error:
        print(f"prodstack: a pulumi command failed:\n{error}", file=sys.stderr)
        return EXIT_FAILED


def gameday(args: argparse.Namespace, root: Path) -> int:
    from infra.ops.gameday import command

    if args.list:
        print(command.listing())
        return EXIT_OK
    if not args.stack:
        raise CouldNotRunError("gameday needs --stack NAME (or --list)")
    try:
        return command.run(root, args.stack, args.drill, args.yes, args.ca, args.json)
    except command.RefusedError as error:
        raise CouldNotRunError(str(error)) from None


def smoke(args: argparse.Namespace) -> int:
    from infra.ops.smoke import Target, run, validate_url

    target = Target(
        url=validate_url(args.url),
        ca_file=args.ca,
        http_url=args.http_url,
        health_path=args.health_path,
        auth_path=args.auth_path,
        min_certificate_days=args.min_days,
    )
    return run(target)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "smoke":
            return smoke(args)  # needs no project: it runs against a URL
        root = args.root or _project_root(Path.cwd())
        if args.command == "ephemeral":
            return ephemeral(args, root)
        if args.command == "images":
            return debian_images()
        if args.command == "gameday":
            return gameday(args, root)
        if args.command == "render":
            from infra.render.render import render

            out = args.out or root / "rendered" / args.stack
            result = render(root, args.stack, out)
            print(
                f"rendered {len(result.recording.resources)} resources of stack "
                f"{args.stack} into {out}"
            )
            return 0
        if args.command == "check":
            from infra.render.check import run_check

            report = run_check(
                root,
                args.stack,
                args.out,
                args.kubernetes_version,
                policy_config=args.policy_config,
                preview=args.preview,
            )
            print(report.text())
            return EXIT_OK if report.passed else EXIT_FAILED
        if args.command == "policies-doc":
            from policies.docs import policies_markdown
            from policies.pack import write_configs

            (root / "docs" / "policies.md").write_text(policies_markdown())
            written = write_configs(root / "policies" / "config")
            print(f"wrote docs/policies.md and {len(written)} pack config files")
            return 0
        from infra.settings.docs import settings_markdown

        target = args.out or root / "docs" / "settings.md"
        target.write_text(settings_markdown())
        print(f"wrote {target}")
        return 0
    except (CouldNotRunError, MissingStackFileError, ValueError) as error:
        # ValueError: an argument the command cannot work with (a URL, a name, a TTL).
        print(f"prodstack: {error}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    except (SettingsError, StackConfigError) as error:
        print(f"prodstack: {error}")  # the stack is invalid: said where its reports go
        return EXIT_FAILED


def run() -> None:
    """The console entry point. Exits without interpreter teardown: by then every file is
    written and closed, and tearing down the Pulumi runtime (its worker threads and objects)
    would add about half a second to every `prodstack check` for nothing.

    The cyclic garbage collector is off: a command lives for seconds, allocates mostly
    acyclic objects that reference counting frees, and each collection rescans everything the
    imports created (a sixth of a dev check; the peak memory of a prod check barely moves,
    106 to 108 MB)."""
    gc.disable()
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
