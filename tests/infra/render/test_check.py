"""`prodstack render` and `prodstack check` on the shipped stacks and on broken input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.render import kubernetes_schema, secret_scan
from infra.render.check import run_check
from infra.render.render import render
from tests.support import ROOT


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_pass_the_check(stack: str, tmp_path: Path) -> None:
    report = run_check(ROOT, stack, tmp_path)
    assert report.passed, report.text()
    assert [s.name for s in report.sections] == [
        "settings",
        "render",
        "kubernetes schema",
        "consistency",
        "secrets",
        "policy pack",
    ]
    # Zero mandatory violations; the advisory ones are listed and justified in docs/policies.md.
    assert not [f for f in report.findings if f.level == "mandatory"]


def test_prod_renders_schema_valid_manifests(tmp_path: Path) -> None:
    result = render(ROOT, "prod", tmp_path)
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in result.files.manifests}
    assert {
        "Namespace",
        "NetworkPolicy",
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    } <= kinds
    assert kubernetes_schema.validate(result.files.manifests, "1.33") == []


def test_render_writes_resources_with_options(tmp_path: Path) -> None:
    result = render(ROOT, "dev", tmp_path)
    resources = json.loads((tmp_path / "resources.json").read_text())
    assert len(resources) == len(result.recording.resources)
    container = next(r for r in resources if r["name"] == "prodstack-dev-api-0")
    assert set(container["options"]) == {
        "parent",
        "protect",
        "retainOnDelete",
        "dependsOn",
        "ignoreChanges",
        "deleteBeforeReplace",
        "propertyDependencies",
    }
    assert container["options"]["parent"].endswith("prodstack:index:Api::api")
    assert (tmp_path / "config" / "prodstack-dev-api-api-files" / "api.json").is_file()
    assert list((tmp_path / "docker").glob("container-*.json"))


def test_schema_validation_catches_a_misspelt_field(tmp_path: Path) -> None:
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "x"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {
                        "metadata": {"labels": {"a": "b"}},
                        "spec": {"containers": [{"name": "c", "image": "i", "imagePolicy": "x"}]},
                    },
                },
            }
        )
    )
    problems = kubernetes_schema.validate([manifest], "1.33")
    assert len(problems) == 1
    assert "imagePolicy" in problems[0].message


def test_schema_versions_are_checked() -> None:
    assert "1.33" in kubernetes_schema.supported_versions()
    with pytest.raises(ValueError, match="has no schema here"):
        kubernetes_schema.validate([], "1.9")


def test_secret_scan_finds_a_leak(tmp_path: Path) -> None:
    clean = tmp_path / "clean.json"
    clean.write_text('{"password": "[secret]"}\n')
    leaky = tmp_path / "leaky.yaml"
    leaky.write_text("a: 1\npassword: mock-0123456789abcdef-password\n")
    leaks = secret_scan.scan([clean, leaky], {"mock-0123456789abcdef-password"})
    assert [(leak.path.name, leak.line) for leak in leaks] == [("leaky.yaml", 2)]


def test_encrypted_config_values_never_reach_rendered_files(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: prodstack\nruntime: python\n")
    (project / "Pulumi.pr-9.yaml").write_text(
        "config:\n"
        "  prodstack:environment: ephemeral\n"
        "  prodstack:secrets:\n    fromConfig: [stripeApiKey]\n"
        "  prodstack:stripeApiKey:\n    secure: v1:AAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBB\n"
    )
    report = run_check(project, "pr-9", tmp_path / "out")
    assert report.passed, report.text()
    secrets_section = next(s for s in report.sections if s.name == "secrets")
    assert secrets_section.findings == []
    text = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "offline-placeholder-secret-" not in text
    assert "stripe-api-key" in text  # the file is delivered, its value is not shown


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_check_passes_and_prints_a_report(tmp_path: Path) -> None:
    result = run_cli("check", "--stack", "prod", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kubernetes schema  ok" in result.stdout
    assert result.stdout.strip().endswith("result: passed")


def test_cli_check_fails_on_bad_settings_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: prodstack\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  prodstack:api:\n    replicas: 0\n")
    result = run_cli("--root", str(tmp_path), "check", "--stack", "dev")
    assert result.returncode == 1
    assert "prodstack:api.replicas: must be at least 1, got 0" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_reports_a_missing_stack_file_clearly(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: prodstack\nruntime: python\n")
    result = run_cli("--root", str(tmp_path), "render", "--stack", "nope")
    assert result.returncode == 2
    assert "no stack file Pulumi.nope.yaml" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("stack", "absent"),
    [("dev", ("pulumi_kubernetes", "jsonschema")), ("prod", ("pulumi_docker",))],
)
def test_a_stack_loads_only_its_own_platforms_provider(stack: str, absent: tuple[str, ...]) -> None:
    """What `prodstack check` costs is mostly imports (bench/check_time.py): a Docker stack
    never loads the Kubernetes provider or the schema validator, nor a Kubernetes stack the
    Docker provider."""
    probe = (
        "import sys, tempfile\n"
        "from infra.cli import main\n"
        "with tempfile.TemporaryDirectory() as out:\n"
        f"    code = main(['check', '--stack', {stack!r}, '--out', out])\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    code, loaded = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert code == "0", result.stdout + result.stderr
    assert not [name for name in absent if f"'{name}'" in loaded], loaded
