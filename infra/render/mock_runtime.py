"""Run the real program under Pulumi's mock runtime and record what it registers.

The SDK's MockMonitor sees every RegisterResource request; recording them gives each
resource's type, name, inputs and options (parent, protect, retainOnDelete, dependsOn,
ignoreChanges, deleteBeforeReplace, and which resources each input came from) exactly as the
engine would receive them.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import mocks, rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _ensure_event_loop

from infra.render.stack_config import StackConfig

SECRET_SIG = rpc._special_sig_key
SECRET_VALUE = rpc._special_secret_sig
REDACTED = "[secret]"


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    inputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    depends_on: list[str]
    ignore_changes: list[str]
    # The program's choice of replacement order (None: the provider's), and the resources
    # each input's value came from: what the engine's plan of an update reads.
    delete_before_replace: bool | None = None
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    # The inputs with secret values in place. Kept in memory for the writer to pick the
    # non-secret parts of a property the SDK marked secret as a whole; never written.
    unredacted: dict[str, Any] = field(default_factory=dict, repr=False)
    # Where the program marked inputs secret (paths of keys and list indexes), for the
    # policy checks that need to know; the engine does not tell policies.
    secret_paths: frozenset[tuple[str | int, ...]] = frozenset()

    @property
    def props(self) -> dict[str, Any]:
        """What the engine hands the policy pack: the inputs, secrets in place."""
        return self.unredacted

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "inputs": self.inputs,
            "options": {
                "parent": self.parent,
                "protect": self.protect,
                "retainOnDelete": self.retain_on_delete,
                "dependsOn": self.depends_on,
                "ignoreChanges": self.ignore_changes,
                "deleteBeforeReplace": self.delete_before_replace,
                "propertyDependencies": self.property_dependencies,
            },
        }


@dataclass
class Recording:
    resources: list[RecordedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Every secret's plaintext (generated stand-ins and config placeholders), to prove none
    # reaches a rendered file.
    secret_values: set[str] = field(default_factory=set)
    # Stack outputs in plaintext and which of them are secret, for the policy checks; the
    # written outputs.json has them masked. Kept in memory only.
    plain_outputs: dict[str, Any] = field(default_factory=dict, repr=False)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]


def redact(value: Any) -> Any:
    """Mask every leaf inside a secret-wrapped value, keeping keys so manifests stay valid."""
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format has only doubles; manifests want integers
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return _mask(value.get("value"))
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _mask(value: Any) -> Any:
    if isinstance(value, Unknown):
        return rpc.UNKNOWN  # a secret not known yet (a first preview) is still unknown
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return REDACTED


def _unwrapped(value: Any) -> Any:
    if isinstance(value, Unknown):
        return rpc.UNKNOWN  # as the engine sends it to policies
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return _unwrapped(value.get("value"))
        return {k: _unwrapped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrapped(v) for v in value]
    return value


def secret_paths(value: Any, path: tuple[str | int, ...] = ()) -> set[tuple[str | int, ...]]:
    """The paths of every secret-wrapped value inside a deserialized property map."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return {path}
        return {p for k, v in value.items() for p in secret_paths(v, (*path, k))}
    if isinstance(value, list):
        return {p for i, v in enumerate(value) for p in secret_paths(v, (*path, i))}
    return set()


def stand_in(resource_name: str, output: str) -> str:
    """The stable fake a mocked random resource yields (a test can compute it to log in)."""
    return "mock-" + hashlib.sha256(resource_name.encode()).hexdigest()[:24] + f"-{output}"


class StackMocks(mocks.Mocks):
    """Provider stand-ins: echo inputs as state, and give generated values stable fakes."""

    def __init__(self, one_shot_exit_code: int = 0, preview: bool = False) -> None:
        # Every secret value the stand-ins generate: what must never reach a rendered file.
        self.generated_secrets: set[str] = set()
        # What a one-shot Docker container (a release task) exits with: 0 models a successful
        # migration; tests pass another code to prove a failure stops the rollout.
        self.one_shot_exit_code = one_shot_exit_code
        # A first preview: nothing exists yet, so every value a provider computes (IDs,
        # generated secrets, keys and certificates, digests, exit codes) is unknown.
        self.preview = preview

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if self.preview:
            inputs = dict(_unwrapped(args.inputs))
            computed = set(self.computed(args)) - set(inputs)
            return "", {**inputs, **dict.fromkeys(computed, rpc.UNKNOWN)}
        return self.created(args)

    def computed(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        """The outputs a provider computes for a resource: what `created` adds to its inputs
        (and a built image's digest)."""
        created = self.created(args)[1]
        inputs = dict(_unwrapped(args.inputs))
        extra = {"repoDigest": ""} if args.typ == "docker:index/image:Image" else {}
        return {k: v for k, v in {**created, **extra}.items() if k not in inputs}

    def created(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(_unwrapped(args.inputs))
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = stand_in(args.name, "password")
        elif args.typ == "random:index/randomBytes:RandomBytes":
            state["base64"] = stand_in(args.name, "base64")
            state["hex"] = stand_in(args.name, "hex")
        elif args.typ == "docker:index/image:Image":
            state["repoDigest"] = ""
        elif args.typ == "docker:index/container:Container" and state.get("attach"):
            state["exitCode"] = self.one_shot_exit_code
        elif args.typ == "tls:index/privateKey:PrivateKey":
            state["privateKeyPem"] = stand_in(args.name, "private-key-pem")
            state["publicKeyPem"] = f"public key of {args.name}"
        elif args.typ == "tls:index/certRequest:CertRequest":
            state["certRequestPem"] = f"certificate request {args.name}"
        elif args.typ in (
            "tls:index/selfSignedCert:SelfSignedCert",
            "tls:index/locallySignedCert:LocallySignedCert",
        ):
            state["certPem"] = f"certificate {args.name}"
        if args.typ.startswith("random:"):
            self.generated_secrets.update(
                str(state[key]) for key in ("result", "base64", "hex") if key in state
            )
        if args.typ == "tls:index/privateKey:PrivateKey":
            self.generated_secrets.add(state["privateKeyPem"])

        return f"{args.name}-id", state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class DuplicateUrnError(Exception):
    """The engine refuses a second resource with a URN it has: so does the mock monitor."""


class DependencyCycleError(Exception):
    """A dependency the engine could not order."""


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, stack_mocks: StackMocks) -> None:
        super().__init__(stack_mocks)
        self.recording = Recording()
        self.recording.secret_values = stack_mocks.generated_secrets
        self.registered: set[str] = set()
        # The SDK registers from a pool of threads: the check and the claim are one step.
        self._registering = threading.Lock()

    def refuse_what_the_engine_refuses(self, request: Any) -> None:
        """Two resources with one URN, and a dependency the engine cannot order: on a
        resource not yet registered (the only way a cycle reaches the engine, since every
        edge of a cycle cannot point backwards) or on the resource itself."""
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._registering:
            if urn in self.registered:
                raise DuplicateUrnError(
                    f"Duplicate resource URN '{urn}'; try giving it a unique name"
                )
            for dependency in request.dependencies:
                if dependency == urn:
                    raise DependencyCycleError(f"{urn} depends on itself: a dependency cycle")
                if dependency not in self.registered:
                    raise DependencyCycleError(
                        f"{urn} depends on {dependency}, which is not registered before it: "
                        "the engine cannot order them (a dependency cycle, or a resource of "
                        "another program)"
                    )
            self.registered.add(urn)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self.refuse_what_the_engine_refuses(request)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        # The SDK gives each worker thread a loop of its own here; close them at exit,
        # before interpreter shutdown closes their sockets under them.
        _close_at_exit(_ensure_event_loop())  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        raw = rpc.deserialize_properties(request.object, keep_unknowns=True)
        self.recording.resources.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                inputs=redact(raw),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                depends_on=sorted(request.dependencies),
                ignore_changes=list(request.ignoreChanges),
                delete_before_replace=(
                    bool(request.deleteBeforeReplace)
                    if request.deleteBeforeReplaceDefined
                    else None
                ),
                property_dependencies={
                    key: sorted(deps.urns)
                    for key, deps in request.propertyDependencies.items()
                    if deps.urns
                },
                unredacted=_unwrapped(raw),
                secret_paths=frozenset(secret_paths(raw)),
            )
        )
        return response


async def _resolve(value: Any) -> tuple[Any, bool]:
    """An output's value and whether it is secret."""
    output = pulumi.Output.from_input(value)
    return await output.future(), await output.is_secret()


_loops_to_close: set[asyncio.AbstractEventLoop] = set()


def _close_at_exit(loop: asyncio.AbstractEventLoop) -> None:
    if loop not in _loops_to_close:
        _loops_to_close.add(loop)
        atexit.register(loop.close)


def _event_loop() -> asyncio.AbstractEventLoop:
    """One loop per thread, reused by every run: the SDK keeps references to the loop it
    first ran on, and closing it under those references fails at interpreter exit."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        _close_at_exit(loop)
    return loop


class MockRun:
    """One run of a program under mocks. `recording` is kept even when the program raises,
    so a test can prove a rejected config registered nothing."""

    def __init__(
        self,
        config: StackConfig,
        one_shot_exit_code: int = 0,
        mocks: StackMocks | None = None,
        preview: bool = False,
    ) -> None:
        self.config = config
        self.preview = preview
        self.mocks = mocks or StackMocks(one_shot_exit_code, preview=preview)
        self.monitor = RecordingMonitor(self.mocks)
        self.recording = self.monitor.recording
        self.recording.secret_values.update(config.placeholders)

    def run(self, program: Callable[[], Mapping[str, Any]]) -> Recording:
        """Run `program` with the stack's config; its exceptions (SettingsError) propagate."""
        pulumi.runtime.set_all_config(self.config.values, sorted(self.config.secret_keys))
        # A fresh root stack per run, so URNs name this stack and not a previous run's.
        runtime_settings.ROOT.set(None)
        loop = _event_loop()
        pulumi.runtime.set_mocks(
            self.mocks,
            project=self.config.project,
            stack=self.config.stack,
            preview=self.preview,
            monitor=self.monitor,
        )
        try:
            outputs = program()
            try:
                loop.run_until_complete(wait_for_rpcs())
            except (DuplicateUrnError, DependencyCycleError) as error:
                # What the engine would refuse, raised afresh: the SDK re-raises the same
                # error from every pending registration, chaining it to itself.
                raise type(error)(str(error)) from None
            for key, value in outputs.items():
                resolved, secret = loop.run_until_complete(_resolve(value))
                self.recording.plain_outputs[key] = resolved
                self.recording.outputs[key] = _mask(resolved) if secret else resolved
                if secret:
                    self.recording.secret_outputs.add(key)
        finally:
            _settle(loop)
        return self.recording


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """Let every outstanding registration finish. A failed run (a release task that failed)
    leaves its error in the SDK's RPC manager, which would fail the next run in this
    process: it has already been raised to this run's caller, so it is dropped here."""
    manager = runtime_settings._get_rpc_manager()
    for _ in range(1000):
        try:
            loop.run_until_complete(wait_for_rpcs())
            break
        except Exception:
            manager.unhandled_exception = None
            manager.exception_traceback = None
    manager.clear()


def run_program(
    config: StackConfig, program: Callable[[], Mapping[str, Any]], preview: bool = False
) -> Recording:
    """`preview`: as a first `pulumi preview` of a new stack runs it (infra/render: --preview)."""
    return MockRun(config, preview=preview).run(program)
