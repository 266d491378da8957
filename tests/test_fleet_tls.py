"""A fleet only its owner can use: a TLS scheduler and worker started here with certificates
made here (mutual TLS: each side must show a certificate the other's CA signed). labench reaches
them through its `--tls-*` options (its dask cases too) and through Dask's own configuration;
without certificates, or with ones the scheduler does not trust, the run is refused in one
paragraph with exit 2, before anything is measured."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_fleet_scheduler import START_LIMIT, free_port, launch, stop

from labench.results import reader

pytest.importorskip("distributed")
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")

SUITE = """
labench: 1
name: tls
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3}
benchmarks:
  - {id: mv, workload: kernels.matvec, params: {n: 64}, implementations: [numpy, dask]}
"""


def openssl(*arguments, cwd):
    subprocess.run(["openssl", *arguments], cwd=cwd, check=True, capture_output=True)


def authority(name, folder):
    """A self-signed CA: NAME.pem and NAME.key."""
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        cwd=folder,
    )


def signed(name, ca, folder):
    """A certificate for localhost and 127.0.0.1 signed by `ca`: NAME.pem and NAME.key."""
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=localhost", cwd=folder,
    )
    (folder / f"{name}.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        cwd=folder,
    )


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """The cluster's CA and its nodes' and this client's certificates; and an intruder's,
    signed by a CA of its own."""
    folder = tmp_path_factory.mktemp("certificates")
    authority("ca", folder)
    signed("node", "ca", folder)
    signed("client", "ca", folder)
    authority("rogue", folder)
    signed("intruder", "rogue", folder)
    return folder


@pytest.fixture(scope="module")
def tls_scheduler(certificates):
    """A tls:// scheduler and one worker (non-daemonic, as the fleet how-to says), both with
    the node certificate; stopped at the end."""
    from distributed import Client
    from distributed.security import Security

    dask = str(Path(sys.executable).parent / "dask")
    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    node = ["--tls-ca-file", "ca.pem", "--tls-cert", "node.pem", "--tls-key", "node.key"]
    local = ["--host", "127.0.0.1", "--no-dashboard", *node]
    commands = [
        [dask, "scheduler", "--protocol", "tls", "--port", str(port), *local],
        [dask, "worker", address, "--nthreads", "1", *local],
    ]
    processes: list[subprocess.Popen] = []
    try:
        launch(commands, certificates, processes)
        security = Security(
            tls_ca_file=str(certificates / "ca.pem"),
            tls_client_cert=str(certificates / "client.pem"),
            tls_client_key=str(certificates / "client.key"),
            require_encryption=True,
        )
        with Client(address, timeout=f"{START_LIMIT}s", security=security) as client:
            client.wait_for_workers(1, timeout=START_LIMIT)
        yield address
    finally:
        stop(processes)


def credentials(folder, name, ca="ca"):
    return [
        "--tls-ca-file", folder / f"{ca}.pem",
        "--tls-cert", folder / f"{name}.pem",
        "--tls-key", folder / f"{name}.key",
    ]


def test_labench_options_reach_a_tls_fleet_and_its_dask_cases(
    cli, write_suite, tmp_path, monkeypatch, tls_scheduler, certificates
):
    monkeypatch.chdir(tmp_path)
    outcome = cli(
        "run", write_suite(SUITE), "-q", "--cluster", tls_scheduler,
        *credentials(certificates, "client"),
    )
    assert outcome.exit_code == 0, outcome.output
    assert "plain TCP" not in outcome.output
    saved = {path.name.split("-")[1]: reader.load(path) for path in tmp_path.glob("results/*.json")}
    assert saved.pop("cluster").cases[0].key.endswith("/dask")  # measured through TLS too
    [(_, host)] = saved.items()
    assert [(case.implementation, case.status) for case in host.cases] == [("numpy", "ok")]


def test_dasks_own_tls_configuration_is_honoured(
    write_suite, tmp_path, tls_scheduler, certificates
):
    write_suite(SUITE.replace(", dask]", "]"), "tls.yaml")
    environment = os.environ | {
        "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(certificates / "ca.pem"),
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(certificates / "client.pem"),
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(certificates / "client.key"),
    }
    ran = subprocess.run(
        [sys.executable, "-m", "labench", "run", "tls.yaml", "-q", "--cluster", tls_scheduler],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300, check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    [path] = tmp_path.glob("results/*.json")
    assert [case.status for case in reader.load(path).cases] == ["ok"]


REFUSALS = {
    "no-certificate": (
        lambda folder: [],
        "a TLS scheduler admits only clients with a certificate it trusts, and none is "
        "configured here: give --tls-ca-file CA.pem --tls-cert CERT.pem --tls-key KEY.pem",
    ),
    "untrusted-certificate": (
        lambda folder: credentials(folder, "intruder"),
        "no TLS connection to a Dask scheduler there (in <TLS",
    ),
    "wrong-ca": (
        lambda folder: credentials(folder, "client", ca="rogue"),
        "no TLS connection to a Dask scheduler there (",
    ),
    "ca-only": (
        lambda folder: ["--tls-ca-file", folder / "ca.pem"],
        "--tls-ca-file and --tls-cert go together",
    ),
    "no-such-file": (
        lambda folder: credentials(folder, "nobody"),
        "nobody.pem: no such file; expected a PEM file",
    ),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_tls_fleet_without_the_right_certificate_is_refused_in_one_paragraph(
    cli, write_suite, tmp_path, monkeypatch, tls_scheduler, certificates, refusal
):
    monkeypatch.chdir(tmp_path)
    options, expected = REFUSALS[refusal]
    refused = cli("run", write_suite(SUITE), "-q", "--cluster", tls_scheduler, *options(certificates))
    assert refused.exit_code == 2, refused.output
    assert "Traceback" not in refused.output
    paragraphs = [line for line in refused.output.splitlines() if line.strip()]
    assert len(paragraphs) == 1 and paragraphs[0].startswith("error: ")
    assert expected in " ".join(refused.output.split())
    assert not (tmp_path / "results").exists()
