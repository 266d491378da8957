"""The documentation cannot rot: the site builds with `--strict` (no broken link or anchor), its
reference pages hold every command, option, suite field and workload of the code, and every
command of the tutorial runs as shown on a CPU-only machine."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from conftest import ROOT
from typer.testing import CliRunner

from labench.commands import terminal
from labench.commands.app import app

DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation site, built strictly into a folder of this test module's own."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    out = tmp_path_factory.mktemp("site")
    options = ["--strict", "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(out)]
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"NO_MKDOCS_2_WARNING": "1"},
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def code(text: str) -> str:
    return f"<code>{html.escape(text, quote=False)}</code>"


def test_the_site_builds_strictly_with_every_page(site):
    nav_pages = re.findall(r":\s*([\w/-]+)\.md\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert len(nav_pages) >= 20
    missing = [name for name in nav_pages if not (site / name.removesuffix("index")).exists()]
    assert not missing


def test_every_command_and_option_is_in_the_generated_reference(site):
    reference = page(site, "reference/cli")
    group = typer.main.get_command(app)
    missing = []
    for name, command in group.commands.items():
        if command.hidden:
            continue
        if f'id="{name}"' not in reference or code(f"labench {name}") not in reference:
            missing.append(f"labench {name}")
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            if param.opts[0].startswith("-"):
                spellings = [*param.opts, *param.secondary_opts]
            else:  # an argument: shown by its name
                spellings = [param.name.upper() + ("..." if param.nargs == -1 else "")]
            missing += [
                f"labench {name} {spelling}"
                for spelling in spellings
                if code(spelling) not in reference
            ]
    assert not missing, f"not in the generated command reference: {missing}"


def test_the_suite_reference_is_the_schema_labench_prints(site):
    printed = CliRunner().invoke(app, ["schema"]).output
    schema = json.loads(printed)
    assert json.loads((site / "reference" / "suite.schema.json").read_text()) == schema
    reference = page(site, "reference/suite-format")
    fields = [*schema["properties"]] + [
        field for node in schema["$defs"].values() for field in node.get("properties", {})
    ]
    assert [field for field in fields if code(field) not in reference] == []
    assert [name for name in schema["$defs"] if f'id="{name.lower()}"' not in reference] == []


def test_the_result_reference_names_every_field_and_version(site):
    from labench.results.model import MIGRATIONS, SCHEMA, Result

    reference = page(site, "reference/results")
    schema = Result.model_json_schema(by_alias=True)
    fields = [*schema["properties"]] + [
        field for node in schema["$defs"].values() for field in node.get("properties", {})
    ]
    assert [field for field in fields if code(field) not in reference] == []
    assert all(code(version) in reference for version in [SCHEMA, *MIGRATIONS])


def test_the_workload_reference_lists_every_builtin_parameter_and_implementation(site):
    from labench.workloads import BUILTIN

    reference = page(site, "reference/workloads")
    missing = [
        f"{name} {item}"
        for name, workload in BUILTIN.items()
        for item in [name, *workload.params, *workload.implementations]
        if code(item) not in reference
    ]
    assert not missing


def tutorial_commands() -> list[str]:
    """Every line of the tutorial's ```bash blocks: the commands a reader types."""
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_every_tutorial_command_runs_as_shown(tmp_path):
    commands = tutorial_commands()
    # Installing is the one step the environment running these tests has already taken.
    assert commands[0] == "pip install labench"
    runs = [command for command in commands if command.startswith("labench run")]
    assert runs and all("--max-time 0.02" in command for command in runs), (
        "the tutorial's runs keep --max-time small, so a reader (and this test) waits seconds"
    )
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    for command in commands[1:]:
        ran = subprocess.run(
            command,
            shell=True,
            cwd=tmp_path,
            env=os.environ | {"PATH": path},
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        # Every step exits 0, but the gated run of unchanged code, which ends PASS (0) or, where
        # the machine is too noisy to tell some case from a slowdown, UNDECIDED (3), as the
        # tutorial says; its last line says which.
        gated = "--baseline" in command
        assert ran.returncode in ((0, 1, 3) if gated else (0,)), f"$ {command}\n{ran.stdout}"
        if gated:
            # The gated run ends as the tutorial says, with the line that matches its status.
            # A REGRESSION of unchanged code is the gate's false alarm, whose rate on this kind
            # of machine the gating explanation measures (about 1 run in 20); it is not what
            # this test checks, which is that each command runs as shown.
            ending = {0: "PASS: ", 1: "REGRESSION: ", 3: "UNDECIDED: "}[ran.returncode]
            assert ending in ran.stdout, ran.stdout
    assert {"a.json", "b.json", "c.json"} <= {path.name for path in tmp_path.iterdir()}


def test_the_exit_code_reference_lists_every_code_the_commands_use():
    listed = re.findall(r"^\| `(\d+)` \|", (DOCS / "reference" / "exit-codes.md").read_text(), re.M)
    codes = {0} | {value for name, value in vars(terminal).items() if name.startswith("EXIT_")}
    assert sorted(int(code) for code in listed) == sorted(codes)


def test_the_own_workload_guide_shows_the_example_suite_verbatim():
    guide = (DOCS / "how-to" / "own-workloads.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", guide, flags=re.S)
    assert (ROOT / "examples" / "axpy.yaml").read_text() in blocks


def test_the_readme_links_to_pages_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", readme)
    assert targets
    assert [target for target in targets if not (ROOT / target).is_file()] == []


def test_every_github_workflow_in_the_docs_passes_actionlint(tmp_path):
    """Each complete GitHub Actions workflow shown in the docs, as a file, is clean under
    actionlint (the `dev` extra installs it on x86-64 Linux); the self-hosted runner's label
    the dedicated-runner guide uses is declared, as its readers would declare it."""
    import shutil

    linter = shutil.which("actionlint")
    if linter is None:
        pytest.skip("actionlint is not installed (the dev extra has it on x86-64 Linux)")
    pages = sorted((Path(__file__).resolve().parent.parent / "docs").rglob("*.md"))
    workflows = [
        (page, block)
        for page in pages
        for block in re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
        if re.search(r"^on:", block, re.M) and re.search(r"^jobs:", block, re.M)
    ]
    assert len(workflows) >= 3, [str(page) for page, _ in workflows]
    folder = tmp_path / ".github"
    (folder / "workflows").mkdir(parents=True)
    (folder / "actionlint.yaml").write_text("self-hosted-runner:\n  labels: [bench]\n")
    files = []
    for index, (_, block) in enumerate(workflows):
        files.append(folder / "workflows" / f"w{index}.yml")
        files[-1].write_text(block)
    done = subprocess.run(
        [linter, "-config-file", str(folder / "actionlint.yaml"), *map(str, files)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
