"""A stand-in deploy command: appends the argv and environment it got as one JSON line to the file named
by its first argument, then exits with the status in $EXIT_WITH (default 0)."""

import json
import os
import sys

with open(sys.argv[1], "a") as file:
    file.write(json.dumps({"argv": sys.argv[2:], "env": dict(os.environ)}) + "\n")
print("deploy script output")
raise SystemExit(int(os.environ.get("EXIT_WITH", "0")))
