"""The README's run section, run as it is written: behind a company proxy that inspects
TLS with its own CA. The proxy here sends api.openai.com to a local server whose
certificate a private CA signed, so the commands reach "OpenAI" only through the proxy
and only if the bundle is trusted."""

import json
import re
import shlex
import shutil
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from tests.model_servers import ForwardProxy, ModelServer

RunCli = Callable[..., Result]
README = Path(__file__).resolve().parent.parent / "README.md"
# What the README's examples name, and what stands for it here
PROXY = "http://proxy.example.com:3128"
BUNDLE = "/etc/ssl/company-ca.pem"


def run_section() -> list[str]:
    """The lines of the code block under "3. Register models and run them"."""
    text = README.read_text()
    block = re.search(r"\*\*3\. Register models and run them\*\*.*?```sh\n(.*?)```", text, re.S)
    assert block, "README: no code block under 3. Register models and run them"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture
def company_ca(tmp_path: Path) -> tuple[str, ssl.SSLContext]:
    """A CA of the company's, and a certificate it signed for api.openai.com."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=company CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")  # fmt: skip
    (tmp_path / "server.ext").write_text(
        "subjectAltName=DNS:api.openai.com\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=api.openai.com"
    )
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "server.ext",
            "-out", "server.pem")  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    return str(tmp_path / "ca.pem"), context


def test_the_readme_run_section_runs_as_written(
    run_cli: RunCli,
    conn: psycopg.Connection,
    tmp_path: Path,
    company_ca: tuple[str, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    bundle, context = company_ca
    cases = tmp_path / "qa.jsonl"
    cases.write_text("".join(json.dumps({"input": f"q{i}"}) + "\n" for i in range(20)))
    assert run_cli("load", "prompts", str(cases), "-d", "qa", "--quiet").exit_code == 0
    assert (
        run_cli("load", "prompts", str(cases), "-d", "qa", "--project", "search", "-q").exit_code
        == 0
    )
    env = {"OPENAI_API_KEY": "sk-readme-test"}
    with ModelServer(tls=context) as server:
        port = int(server.url.split(":")[2].split("/")[0])
        with ForwardProxy(hosts={"api.openai.com:443": ("127.0.0.1", port)}) as proxy:
            for line in run_section():
                line = line.replace(PROXY, proxy.url).replace(BUNDLE, bundle)
                words = shlex.split(line, comments=True)
                if words[0] == "export":
                    env.update(word.split("=", 1) for word in words[1:])
                    continue
                assert words[0] == "evaltool", line
                result = run_cli(*words[1:], env=env)
                assert result.exit_code == 0, (line, result.output)
    # every call went through the proxy, to "OpenAI", trusted by the company's CA only
    assert {target for method, target, _ in proxy.requests} == {"api.openai.com:443"}
    # the second run's answers come from the response cache: the same model and requests
    assert len(server.requests) == 20
    assert conn.execute(
        "SELECT count(*) FILTER (WHERE cached_from IS NOT NULL) FROM evaltool.response"
    ).fetchone() == (20,)
    assert conn.execute("SELECT status, count(*) FROM evaltool.run GROUP BY status").fetchall() == [
        ("completed", 2)
    ]
    assert conn.execute(
        "SELECT monthly_budget_usd FROM evaltool.project WHERE name = 'search'"
    ).fetchone() == (200,)
