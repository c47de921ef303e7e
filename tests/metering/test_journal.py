"""The crash journal's mapped segments: what is appended is on disk at once, a full segment continues in
a new one, and a segment whose process died before closing it (its unused end still zero bytes) reads
back exactly what was appended."""

from __future__ import annotations

from pathlib import Path

import orjson

from meshclaw.metering.journal import Journal, orphaned_segments


def line(index: int, size: int = 40) -> bytes:
    return orjson.dumps(["u", index, "x" * size]) + b"\n"


def test_an_appended_record_is_in_the_file_before_the_segment_is_closed(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096)
    journal.append(line(1))
    # Read through the file, not the mapping: what another process would find after a kill -9.
    assert journal.current.path.read_bytes().startswith(line(1))
    journal.close()


def test_a_full_segment_continues_in_a_new_one_and_rotation_hands_over_both(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096)
    journal.prepare()  # a spare, which the first full segment switches to
    written = [line(index) for index in range(200)]  # about 10 KiB: three segments
    for record in written:
        journal.append(record)
    taken = journal.rotate()
    for segment in taken:
        segment.close()  # as the recorder does, once nothing more can be appended to them
    assert len(taken) == 3
    assert b"".join(segment.path.read_bytes() for segment in taken) == b"".join(written)
    assert sum(segment.count for segment in taken) == 200
    journal.close()
    # Taken segments stay until their batch commits; the empty current one went with the close, and so
    # did a spare.
    assert sorted(tmp_path.iterdir()) == sorted(segment.path for segment in taken)
    for segment in taken:
        segment.remove()
    assert list(tmp_path.iterdir()) == []


def test_a_record_larger_than_a_segment_gets_a_segment_of_its_own(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096)
    big = line(1, size=10_000)
    journal.append(line(0))
    journal.append(big)
    taken = journal.rotate()
    for segment in taken:
        segment.close()
    assert [segment.path.read_bytes() for segment in taken] == [line(0), big]
    journal.close()


def test_a_segment_left_unclosed_reads_back_without_its_zero_filled_end(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "live", segment_bytes=1 << 16)
    for index in range(50):
        journal.append(line(index))
    left = journal.current.path.read_bytes()  # as a killed process leaves it: reserved size, zeros at the end
    assert len(left) == 1 << 16 and left.endswith(b"\x00")
    dead = tmp_path / "dead"
    dead.mkdir()
    (dead / "1-00000001.jsonl").write_bytes(left + b'["u", "torn')  # and a record cut short after it
    [(_, records)] = list(orphaned_segments(dead))
    assert records == [orjson.loads(line(index)) for index in range(50)]
    journal.close()
