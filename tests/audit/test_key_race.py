"""Two runs of a new server append their first audit records at the same moment, each creating the key
file if absent: every caller must get the same whole key (one used to read the file half-written)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from meshclaw.keyfile import load_or_create_key


def test_concurrent_first_use_reads_one_whole_key(tmp_path: Path) -> None:
    for attempt in range(30):
        path = tmp_path / f"{attempt}" / "audit.key"
        start = threading.Barrier(12)

        def load(path: Path = path, start: threading.Barrier = start) -> bytes:
            start.wait()
            return load_or_create_key(env_var="MESHCLAW_TEST_UNSET_KEY", path=path, what="audit HMAC key",
                                      environ={}).key  # fmt: skip

        with ThreadPoolExecutor(max_workers=12) as pool:
            keys = set(pool.map(lambda _: load(), range(12)))
        assert len(keys) == 1 and len(next(iter(keys))) == 32
        assert sorted(p.name for p in path.parent.iterdir()) == ["audit.key"]  # no temporary file left
