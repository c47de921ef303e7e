"""A real blue/green deployment for the deploy connector's tests: started once per session.

supervisord (from the venv) runs everything from a throw-away directory on free loopback ports:
`app-blue` and `app-green` (tests/servers/deploy_files/app.py, each colour a symlink to
`releases/<version>/`), nginx proxying to the live colour (switched by rewriting an included upstream file
and `nginx -s reload`), and Prometheus scraping both colours every second. The operator's deploy script is
tests/servers/deploy_files/bluegreen.py; the connector's command adapter runs it as an argv array.

The recipe was verified on this machine first (../shared/recipes/deploy/, research/connectors.md section
4). Two of its lessons are built in: the apps label every series with `version` so a watch can tell the
new release from the old one's leftover rate window, and a switch waits for 20 consecutive answers from
the new colour because old nginx workers drain gracefully.

When nginx or Prometheus is missing, the fixture fails with a message naming scripts/test-deps/deploy.sh
rather than skipping.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

FILES = Path(__file__).parent / "deploy_files"
NGINX = "/usr/sbin/nginx"
PROMETHEUS = "/usr/bin/prometheus"
START_TIMEOUT_S = 30
SERVICE, ENVIRONMENT, FIRST_VERSION = "web", "production", "1.0.0"


@dataclass(frozen=True)
class BlueGreen:
    root: Path
    nginx_port: int
    ports: dict[str, int]
    prometheus_port: int
    http: httpx.Client
    """One client for every request of the session: building one per request costs ~0.2 s (TLS setup)."""
    service: str = SERVICE
    environment: str = ENVIRONMENT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    def release(self, version: str, *, error_rate: float = 0.0) -> None:
        """Make `releases/<version>/` exist, with the given share of requests answered 500."""
        directory = self.root / "releases" / version
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "release.json").write_text(json.dumps({"version": version, "error_rate": error_rate}))

    def command(self, action: str, *rest: str) -> tuple[str, ...]:
        """The argv the command adapter runs for `action`, with the adapter's placeholders."""
        script = str(FILES / "bluegreen.py")
        return (sys.executable, script, str(self.root), action, "{service}", "{environment}", *rest)

    def run_script(self, *args: str) -> str:
        """Run the deploy script directly, as a person deploying outside MeshClaw would."""
        script = [sys.executable, str(FILES / "bluegreen.py"), str(self.root), *args]
        done = subprocess.run(script, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    def get(self) -> tuple[int, str]:
        """One request through nginx: the status code and the version that answered."""
        response = self.http.get(self.url + "/", timeout=2)
        return response.status_code, str(response.json()["version"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _scraped(http: httpx.Client, prometheus: str) -> bool:
    """Whether Prometheus has scraped both colours at least once."""
    query = {"query": 'count(up{job="app"} == 1)'}
    try:
        answer = http.get(f"{prometheus}/api/v1/query", params=query, timeout=1)
    except httpx.HTTPError:
        return False
    if answer.status_code != 200:  # 503 "Service Unavailable" while Prometheus is still starting
        return False
    result = answer.json()["data"]["result"]
    return bool(result) and result[0]["value"][1] == "2"


def _write_configs(root: Path, ports: dict[str, int], nginx_port: int, prom_port: int, rpc: int) -> None:
    for name in ("nginx", "logs", "run", "prom", "releases"):
        (root / name).mkdir()
    (root / "nginx" / "active_upstream.conf").write_text(
        f"upstream app_active {{ server 127.0.0.1:{ports['blue']}; }}\n"
    )
    (root / "nginx" / "nginx.conf").write_text(
        f"""worker_processes 1;
pid {root}/run/nginx.pid;
error_log {root}/logs/nginx-error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {root}/run/nginx-body;
  proxy_temp_path {root}/run/nginx-proxy;
  fastcgi_temp_path {root}/run/nginx-fcgi;
  uwsgi_temp_path {root}/run/nginx-uwsgi;
  scgi_temp_path {root}/run/nginx-scgi;
  include {root}/nginx/active_upstream.conf;
  server {{
    listen 127.0.0.1:{nginx_port};
    location / {{ proxy_pass http://app_active; }}
  }}
}}
"""
    )
    (root / "prom" / "prometheus.yml").write_text(
        f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: app
    static_configs:
      - targets: ["127.0.0.1:{ports["blue"]}"]
        labels: {{color: blue}}
      - targets: ["127.0.0.1:{ports["green"]}"]
        labels: {{color: green}}
"""
    )
    programs = {
        f"app-{color}": f"{sys.executable} {FILES / 'app.py'} {root / color} {port}"
        for color, port in ports.items()
    }
    programs["nginx"] = f"{NGINX} -c {root}/nginx/nginx.conf -e {root}/logs/nginx-error.log -g 'daemon off;'"
    programs["prometheus"] = (
        f"{PROMETHEUS} --config.file={root}/prom/prometheus.yml --storage.tsdb.path={root}/prom/data"
        f" --web.listen-address=127.0.0.1:{prom_port} --log.level=warn"
    )
    sections = "".join(
        f"[program:{name}]\ncommand={command}\nautorestart=true\nstartsecs=0\nstopwaitsecs=5\n"
        f"stdout_logfile={root}/logs/{name}.log\nredirect_stderr=true\n\n"
        for name, command in programs.items()
    )
    (root / "supervisord.conf").write_text(
        f"""[unix_http_server]
file={root}/run/supervisor.sock
[inet_http_server]
port=127.0.0.1:{rpc}
[supervisord]
logfile={root}/logs/supervisord.log
pidfile={root}/run/supervisord.pid
nodaemon=true
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{root}/run/supervisor.sock

{sections}"""
    )


@contextmanager
def running_bluegreen() -> Iterator[BlueGreen]:
    """A private instance, stopped and removed on exit (the session fixture and the start-up test use it)."""
    for binary in (NGINX, PROMETHEUS):
        if not Path(binary).exists():
            raise RuntimeError(f"{binary} is missing: run scripts/test-deps/deploy.sh")
    supervisord = Path(sys.executable).parent / "supervisord"
    root = Path(tempfile.mkdtemp(prefix="meshclaw-deploy-"))
    ports = {"blue": _free_port(), "green": _free_port()}
    nginx_port, prom_port, rpc = _free_port(), _free_port(), _free_port()
    _write_configs(root, ports, nginx_port, prom_port, rpc)
    http = httpx.Client()
    setup = BlueGreen(root=root, nginx_port=nginx_port, ports=ports, prometheus_port=prom_port, http=http)
    setup.release(FIRST_VERSION)
    for color in ports:
        (root / color).symlink_to(root / "releases" / FIRST_VERSION)
    (root / "setup.json").write_text(
        json.dumps(
            {
                "service": SERVICE, "environment": ENVIRONMENT, "ports": ports, "nginx": NGINX,
                "nginx_port": nginx_port, "supervisor_rpc": f"http://127.0.0.1:{rpc}/RPC2",
            }
        )
    )  # fmt: skip
    (root / "state.json").write_text(
        json.dumps(
            {
                "id": "initial", "service": SERVICE, "environment": ENVIRONMENT, "version": FIRST_VERSION,
                "state": "succeeded", "live": "blue", "previous": None,
            }
        )
    )  # fmt: skip
    process = subprocess.Popen(
        [str(supervisord), "-c", str(root / "supervisord.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (
            _answers(http, setup.url + "/health")
            and all(_answers(http, f"http://127.0.0.1:{port}/health") for port in ports.values())
            and _scraped(http, setup.prometheus_url)
        ):
            if process.poll() is not None or time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {log.name}\n{log.read_text()[-2000:]}" for log in (root / "logs").glob("*.log")
                )
                raise RuntimeError(f"the blue/green setup did not start in {START_TIMEOUT_S} s:\n{logs}")
            time.sleep(0.1)
        yield setup
    finally:
        http.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def bluegreen() -> Iterator[BlueGreen]:
    """The blue/green setup for the whole session."""
    with running_bluegreen() as server:
        yield server
