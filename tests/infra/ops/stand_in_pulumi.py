"""A stand-in for the Pulumi CLI, put on PATH as `pulumi` by the tests: it records every call
(arguments and the backend environment) and answers as the CLI does, from a JSON state file
($STAND_IN_PULUMI_STATE) that also says what should fail."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

HISTORY_ENTRY = {
    "kind": "update",
    "startTime": "2026-11-22T10:00:00.000Z",
    "endTime": "2026-11-22T10:01:00.000Z",
    "message": "",
    "environment": {},
    "config": {},
    "result": "succeeded",
    "version": 1,
}


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def answer(args: list[str], state: dict[str, Any]) -> int:
    stacks: dict[str, dict[str, Any]] = state["stacks"]
    stack = option(args, "--stack")
    if args[:1] == ["version"]:
        print("v3.272.0")
        return 0
    if args[:2] == ["stack", "select"]:
        if stack in stacks:
            return 0
        print(f"error: no stack named '{stack}' found", file=sys.stderr)
        return 255
    if args[:2] == ["stack", "init"]:
        stacks[args[2]] = {"resources": 0, "tags": {}}
        return 0
    if args[:2] == ["config", "set-all"]:
        return 0
    if args[:3] == ["stack", "tag", "set"]:
        assert stack is not None
        stacks[stack]["tags"][args[3]] = args[4]
        return 0
    if args[:1] == ["up"]:
        assert stack is not None
        stacks[stack]["resources"] += state.get("created_by_up", 40)
        if state.get("fail_up"):
            print(
                "error: update failed: container prodstack-ephemeral-x-edge-0: port is already allocated",
                file=sys.stderr,
            )
            return 255
        print("Updating (ephemeral)\nResources:\n    + 40 created")
        return 0
    if args[:2] == ["stack", "output"]:
        print(json.dumps(state["outputs"]))
        return 0
    if args[:2] == ["stack", "history"]:
        print(json.dumps([HISTORY_ENTRY]))
        return 0
    if args[:2] == ["stack", "ls"]:
        print(
            json.dumps(
                [
                    {
                        "name": name,
                        "current": False,
                        "lastUpdate": stack_state.get("lastUpdate", "2026-11-22T10:01:00.000Z"),
                        "updateInProgress": bool(stack_state.get("locked")),
                        "resourceCount": stack_state["resources"],
                    }
                    for name, stack_state in stacks.items()
                ]
            )
        )
        return 0
    if args[:3] == ["stack", "tag", "ls"]:
        assert stack is not None
        print(json.dumps(stacks[stack]["tags"]))
        return 0
    if args[:1] == ["destroy"] and stack in state.get("fail_destroy_of", []):
        print(f"error: destroy of {stack} failed: volume in use", file=sys.stderr)
        return 255
    if args[:1] == ["destroy"] and stacks.get(str(stack), {}).get("locked"):
        # What the CLI says when another update (another reaper) holds the stack's lock.
        print(
            "error: the stack is currently locked by 1 lock(s). Either wait for the other "
            "process(es) to end or delete the lock file with `pulumi cancel`.",
            file=sys.stderr,
        )
        return 255
    if args[:1] == ["destroy"]:
        assert stack is not None
        if state.get("fail_destroy"):
            print("error: destroy failed: volume in use", file=sys.stderr)
            return 255
        stacks[stack]["resources"] = 0
        print("Destroying (ephemeral)\nResources:\n    - deleted")
        return 0
    if args[:2] == ["stack", "rm"]:
        name = args[-1]
        if stacks[name]["resources"] and "--force" not in args:
            print(f"error: '{name}' still has resources; removal rejected", file=sys.stderr)
            return 255
        del stacks[name]
        return 0
    print(f"stand-in pulumi: unexpected command {args}", file=sys.stderr)
    return 2


def main() -> None:
    path = Path(os.environ["STAND_IN_PULUMI_STATE"])
    state = json.loads(path.read_text())
    args = sys.argv[1:]
    state["calls"].append(
        {
            "args": args,
            "backend": os.environ.get("PULUMI_BACKEND_URL"),
            "passphrase": os.environ.get("PULUMI_CONFIG_PASSPHRASE"),
            "cwd": os.getcwd(),
        }
    )
    code = answer([a for a in args if a != "--non-interactive"], state)
    path.write_text(json.dumps(state))
    sys.exit(code)


if __name__ == "__main__":
    main()
