"""The deploy tool of the blue/green fixture: what an operator's own deploy script would be, run by the
command adapter as an argv array (never through a shell).

    bluegreen.py ROOT deploy SERVICE ENVIRONMENT VERSION
    bluegreen.py ROOT rollback SERVICE ENVIRONMENT
    bluegreen.py ROOT status SERVICE ENVIRONMENT

deploy: point the idle colour at releases/VERSION, restart it through supervisord's XML-RPC API, wait
until its /health reports VERSION, switch nginx's upstream to it and reload, then wait for 20 consecutive
answers from the new colour (old nginx workers drain gracefully, so one probe proves nothing).
rollback: switch nginx back to the previous colour, which still runs the previous version.
status: one JSON line {"id", "service", "environment", "version", "state"} for the event source.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
import xmlrpc.client
from pathlib import Path


def main() -> int:
    root = Path(sys.argv[1])
    action, service, environment = sys.argv[2], sys.argv[3], sys.argv[4]
    setup = json.loads((root / "setup.json").read_text())
    if (service, environment) != (setup["service"], setup["environment"]):
        print(f"unknown service/environment {service}/{environment}", file=sys.stderr)
        return 3
    state_file = root / "state.json"
    state = json.loads(state_file.read_text())
    if action == "status":
        print(json.dumps({key: state[key] for key in ("id", "service", "environment", "version", "state")}))
        return 0
    if action == "deploy":
        version = sys.argv[5]
        release = root / "releases" / version
        if not (release / "release.json").exists():
            print(f"no release {version} in {root / 'releases'}", file=sys.stderr)
            return 2
        live, live_version = state["live"], state["version"]
        idle = "green" if live == "blue" else "blue"
        state = {**state, "id": uuid.uuid4().hex, "version": version, "state": "running"}
        write(state_file, state)
        link = root / idle
        link.unlink()
        link.symlink_to(release)
        supervisor = xmlrpc.client.ServerProxy(setup["supervisor_rpc"])
        supervisor.supervisor.stopProcess(f"app-{idle}")
        supervisor.supervisor.startProcess(f"app-{idle}")
        port = setup["ports"][idle]
        if not wait_health(port, version):
            write(state_file, {**state, "state": "failed"})
            print(f"{idle} did not report version {version} on /health", file=sys.stderr)
            return 1
        switch(root, setup, idle)
        previous = {"color": live, "version": live_version}
        write(state_file, {**state, "live": idle, "previous": previous, "state": "succeeded"})
        print(f"deployed {version} on {idle} (was {previous['version']} on {live})")
        return 0
    if action == "rollback":
        previous = state.get("previous")
        if not previous:
            print("nothing to roll back to", file=sys.stderr)
            return 4
        rollback_id = uuid.uuid4().hex
        write(state_file, {**state, "id": rollback_id, "version": previous["version"], "state": "running"})
        switch(root, setup, previous["color"])
        current = {"color": state["live"], "version": state["version"]}
        write(
            state_file,
            {**state, "id": rollback_id, "live": previous["color"], "version": previous["version"],
             "previous": current, "state": "succeeded"},
        )  # fmt: skip
        print(f"rolled back to {previous['version']} on {previous['color']}")
        return 0
    print(f"unknown action {action}", file=sys.stderr)
    return 64


def write(path: Path, data: dict[str, object]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def wait_health(port: int, version: str) -> bool:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                if json.load(response).get("version") == version:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def switch(root: Path, setup: dict[str, object], color: str) -> None:
    ports = setup["ports"]
    assert isinstance(ports, dict)
    (root / "nginx" / "active_upstream.conf").write_text(
        f"upstream app_active {{ server 127.0.0.1:{ports[color]}; }}\n"
    )
    nginx = [str(setup["nginx"]), "-c", str(root / "nginx" / "nginx.conf")]
    nginx += ["-e", str(root / "logs" / "nginx-error.log")]
    subprocess.run([*nginx, "-s", "reload"], check=True, timeout=10)
    hits, deadline = 0, time.monotonic() + 15
    while hits < 20:
        if time.monotonic() > deadline:
            raise SystemExit(f"nginx did not switch to {color}")
        try:
            url = f"http://127.0.0.1:{setup['nginx_port']}/health"
            with urllib.request.urlopen(url, timeout=1) as response:
                hits = hits + 1 if json.load(response).get("port") == ports[color] else 0
        except OSError:
            hits = 0
        time.sleep(0.01)


if __name__ == "__main__":
    raise SystemExit(main())
