"""The stack file as a pull request may hold it: each malformed or dangerous file refused
with one line naming the file and the key or place, exit 1, on standard output, no traceback;
and a fuzz of the reader and the settings model."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.render.stack_config import MAX_BYTES, StackConfigError, read_stack_config
from infra.settings import SettingsError, parse_settings
from tests.support import ROOT

BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    + "".join(
        f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
).encode()

# (case, file bytes, what the one line must say)
CASES: list[tuple[str, bytes, str]] = [
    ("top-level-list", b"- config\n", "must be a mapping with a `config:` mapping, not a list"),
    ("top-level-scalar", b"just text\n", "must be a mapping with a `config:` mapping, not a str"),
    ("config-list", b"config:\n  - prodstack:api\n", "`config:` must be a mapping"),
    ("config-scalar", b"config: 3\n", "`config:` must be a mapping"),
    (
        "duplicate-key",
        b"config:\n  prodstack:api:\n    replicas: 3\n  prodstack:api:\n    replicas: 1\n",
        "Pulumi.dev.yaml:4:3: duplicate key 'prodstack:api' (first on line 2)",
    ),
    (
        "duplicate-nested-key",
        b"config:\n  prodstack:api:\n    replicas: 3\n    replicas: 1\n",
        ":4:5: duplicate key 'replicas'",
    ),
    ("alias-bomb", BOMB, "YAML anchors and aliases are not allowed"),
    (
        "alias",
        b"config:\n  prodstack:api: &x {replicas: 2}\n  prodstack:edge: *x\n",
        "anchors and aliases are not allowed",
    ),
    ("no-namespace", b"config:\n  api:\n    replicas: 2\n", "config key 'api' has no namespace"),
    (
        "namespace-typo",
        b"config:\n  prodstak:api:\n    replicas: 2\n",
        "in namespace 'prodstak'; did you mean prodstack:api?",
    ),
    (
        "namespace-capitalised",
        b"config:\n  Prodstack:api: {}\n",
        "did you mean prodstack:api?",
    ),
    (
        "invalid-utf8",
        b"config:\n  prodstack:domain: caf\xe9\n",
        "Pulumi.dev.yaml: not UTF-8 (byte 31",
    ),
    ("broken-yaml", b"config:\n  prodstack:api: [1, 2\n", "not valid YAML"),
    ("over-the-size-limit", b"#" * (MAX_BYTES + 1), "over the limit"),
    (
        "plaintext-secret",
        b"config:\n  prodstack:secrets:\n    fromConfig: [stripeKey]\n"
        b"  prodstack:stripeKey: sk_live_0123\n",
        "prodstack:stripeKey: a secret given in plaintext (it is named as a secret in the "
        "settings); set it with `pulumi config set --secret stripeKey VALUE`",
    ),
    (
        "secure-setting",
        b"config:\n  prodstack:domain:\n    secure: AAABAxyz\n",
        "prodstack:domain: is a setting, not a secret; set it without --secret",
    ),
]


def check(tmp_path: Path, data: bytes, stack: str = "dev") -> subprocess.CompletedProcess[str]:
    (tmp_path / "Pulumi.yaml").write_text("name: prodstack\nruntime: python\n")
    (tmp_path / f"Pulumi.{stack}.yaml").write_bytes(data)
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", "--root", str(tmp_path), "check", "--stack", stack],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_bad_stack_file_is_refused_in_one_line(
    tmp_path: Path, data: bytes, message: str
) -> None:
    started = time.monotonic()
    result = check(tmp_path, data)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stdout, result.stdout
    assert "Pulumi.dev.yaml" in result.stdout or "prodstack:" in result.stdout
    assert result.stderr == "" and "Traceback" not in result.stdout
    assert time.monotonic() - started < 30  # the alias bomb included


def test_other_namespaces_pass_through_untouched() -> None:
    data = b"config:\n  kubernetes:context: kind-prod\n  aws:region: eu-west-1\n"
    config = read_stack_config("Pulumi.dev.yaml", data, "prodstack", "dev")
    assert config.values == {"kubernetes:context": "kind-prod", "aws:region": "eu-west-1"}


def test_no_stack_file_means_the_command_could_not_run(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: prodstack\nruntime: python\n")
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "--root", str(tmp_path), "check", "--stack", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip() == f"prodstack: no stack file Pulumi.nope.yaml in {tmp_path}"


def test_a_check_without_out_leaves_no_directory_behind(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "check", "--stack", "dev"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(temporary), "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "removed after the check; --out keeps them" in result.stdout
    assert list(temporary.iterdir()) == []


def test_a_stack_file_at_the_size_limit_is_read_in_linear_time() -> None:
    lines = "".join(f'      VAR_{i}: "{"v" * 40}"\n' for i in range(65_000))
    data = f"config:\n  prodstack:api:\n    env:\n{lines}".encode()
    assert 3_800_000 < len(data) <= MAX_BYTES
    started = time.monotonic()
    config = read_stack_config("Pulumi.dev.yaml", data, "prodstack", "dev")
    assert time.monotonic() - started < 5
    assert len(config.values["prodstack:api"]) > 3_000_000


# Any YAML-ish text, and any value under our keys: nothing but the clean errors may come out.
yaml_text = st.text(
    alphabet=st.sampled_from(list("ab:- &*!{}[]#'\"\n\t |>%@`,?0123456789prodstack.")),
    max_size=200,
)
leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
)
value = st.recursive(
    leaf,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["replicas", "image", "api", "tls", "x"]), children, max_size=4
        )
    ),
    max_leaves=12,
)
GROUPS = ["api", "edge", "postgres", "redis", "monitoring", "secrets", "domain", "platform", "x"]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yaml_text)
def test_fuzz_the_reader_raises_only_the_clean_error(text: str) -> None:
    try:
        read_stack_config("Pulumi.dev.yaml", text.encode(), "prodstack", "dev")
    except StackConfigError as error:
        assert str(error).startswith("Pulumi.dev.yaml")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(GROUPS), value, max_size=4), st.sampled_from(["dev", "prod"])
)
def test_fuzz_the_settings_model_raises_only_the_clean_error(
    groups: dict[str, object], stack: str
) -> None:
    from infra.render.stack_config import as_config_text

    config = {f"prodstack:{k}": as_config_text(v) for k, v in groups.items()}
    try:
        parse_settings(config, set(), stack)
    except SettingsError as error:
        assert error.problems and all(p.startswith("prodstack:") for p in error.problems)


def test_the_readme_shows_what_the_check_prints(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    marker = "<!-- the check's output for prodstack:api.replicas: 0"
    shown = readme[readme.index(marker) :].split("```\n", 2)[1]
    result = check(tmp_path, b"config:\n  prodstack:api:\n    replicas: 0\n")
    assert result.returncode == 1
    assert result.stdout == shown
