"""``lthlib.apps.notebook_order``: which notebooks ``python -m lthlib run --jobs N`` starts when."""
import glob
import json
from pathlib import Path

import pytest

from lthlib.apps.notebook_order import Entry, Schedule, last_minutes, read_entry, schedule_for
from lthlib.core.errors import SettingsError

REPO = Path(__file__).resolve().parents[1]


def _entry(number: str, reads=(), alone=False, minutes=1.0) -> Entry:
    return Entry(Path(f"{number}_x.ipynb"), number, tuple(reads), alone, minutes)


def _simulate(schedule: Schedule, seconds: dict[str, float]) -> tuple[list[tuple[float, float, Entry]], float]:
    """Run the schedule on a clock where notebook n takes seconds[n]: (start, end, entry) of
    each, and when the last ended."""
    t, ends, spans = 0.0, {}, []
    while not schedule.done:
        for e in schedule.start():
            ends[e] = t + seconds[e.number]
            spans.append((t, ends[e], e))
        assert ends, "nothing running and nothing started: the schedule is stuck"
        e = min(ends, key=ends.get)
        t = ends.pop(e)
        schedule.finish(e)
    return spans, t


def _check_rules(spans, jobs: int) -> None:
    end = {e.number: stop for _, stop, e in spans}
    for start, stop, e in spans:
        at_start = [o for s, t, o in spans if s <= start < t]  # running when e started, e included
        assert len(at_start) <= jobs, (e.number, [o.number for o in at_start])
        beside = [o for s, t, o in spans if o is not e and s < stop and t > start]
        if e.alone:
            assert not beside, (e.number, [o.number for o in beside])
        for r in e.reads:
            if r in end:
                assert end[r] <= start, f"{e.number} started before {r}, which it reads, ended"


def test_readers_wait_alone_runs_alone_and_never_more_than_jobs_at_once():
    entries = [_entry("01"), _entry("02"), _entry("03", reads=["01"]), _entry("04", alone=True, reads=["02"]),
               _entry("05", reads=["03"]), _entry("06")]
    seconds = {"01": 5, "02": 1, "03": 2, "04": 3, "05": 1, "06": 4}
    for jobs in (1, 2, 3, 6):
        spans, _ = _simulate(Schedule(entries, jobs), seconds)
        assert sorted(e.number for _, _, e in spans) == [e.number for e in entries]  # each once
        _check_rules(spans, jobs)


def test_the_longest_chain_starts_first_and_an_alone_reader_adds_none():
    # 01 -> 02 -> 03 is the longest chain (6 minutes); 04 is long alone (4); 05 runs alone
    # after all and reads 04: without the rule 04 would look 14 minutes long
    entries = [_entry("01", minutes=1), _entry("02", reads=["01"], minutes=2), _entry("03", reads=["02"], minutes=3),
               _entry("04", minutes=4), _entry("05", reads=["04"], alone=True, minutes=10), _entry("06", minutes=0.5)]
    s = Schedule(entries, 1)
    assert s.chain == {"01": 6, "02": 5, "03": 3, "04": 4, "05": 10, "06": 0.5}
    assert [e.number for e in s.start()] == ["01"]
    spans, _ = _simulate(Schedule(entries, 1), {e.number: e.minutes for e in entries})
    assert [e.number for _, _, e in spans] == ["01", "02", "04", "03", "06", "05"]


def test_two_at_once_finish_sooner_than_one_after_another_on_the_suites_shape():
    """The repository's notebooks with their own minutes as durations: two at once take at
    most the longer of (half the non-alone work + the longest notebook) and (the longest
    chain), plus the alone ones -- list scheduling's bound -- and less than all in turn."""
    paths = sorted(glob.glob(str(REPO / "notebooks" / "[0-9][0-9]_*.ipynb")))
    entries = [read_entry(Path(p)) for p in paths]
    seconds = {e.number: 60 * e.minutes for e in entries}
    spans, makespan = _simulate(Schedule(entries, 2), seconds)
    _check_rules(spans, 2)
    shared = [e for e in entries if not e.alone]
    work = sum(seconds[e.number] for e in shared)
    chain = max(Schedule(entries, 2).chain[e.number] for e in shared) * 60
    bound = max(work / 2 + max(seconds[e.number] for e in shared), chain) + sum(
        seconds[e.number] for e in entries if e.alone)
    assert makespan <= bound + 1e-9
    assert makespan < sum(seconds.values())


def test_the_repositorys_notebooks_declare_valid_metadata():
    paths = sorted(glob.glob(str(REPO / "notebooks" / "[0-9][0-9]_*.ipynb")))
    schedule = schedule_for(paths, 2)
    numbers = {e.number for e in schedule.entries}
    for e in schedule.entries:
        assert set(e.reads) <= numbers, (e.number, e.reads)
        assert e.minutes > 0, f"{e.number}: no minutes: it would start last"
    assert [e.number for e in schedule.entries if e.alone] == ["08"]  # it times code


def test_reads_outside_the_run_are_ignored_and_a_cycle_is_an_error():
    s = Schedule([_entry("03", reads=["01", "02"]), _entry("04", reads=["03"])], 2)
    assert s.waits == {"03": (), "04": ("03",)}
    with pytest.raises(SettingsError, match="make a cycle: 01 -> 02 -> 01"):
        Schedule([_entry("01", reads=["02"]), _entry("02", reads=["01"])], 2)
    with pytest.raises(SettingsError, match="jobs=0: must be an integer >= 1"):
        Schedule([_entry("01")], 0)


@pytest.mark.parametrize("meta, message", [
    ({"reads": "02"}, "reads must be a list of two-digit notebook numbers"),
    ({"reads": [2]}, "reads must be a list of two-digit notebook numbers"),
    ({"reads": ["03"]}, "reads names the notebook itself"),
    ({"alone": "yes"}, "alone must be true or false"),
    ({"minutes": -1}, "minutes must be a number >= 0"),
    ({"minutes": True}, "minutes must be a number >= 0"),
    ({"after": ["01"]}, r"unknown keys \['after'\]; allowed: 'reads'"),
    (["01"], "must be a mapping"),
])
def test_bad_metadata_is_named(tmp_path, meta, message):
    path = tmp_path / "03_x.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {"lthlib": meta}}))
    with pytest.raises(SettingsError, match=message) as err:
        read_entry(path)
    assert "03_x.ipynb" in str(err.value)


def test_last_minutes_reads_papermills_duration_at_the_same_scale_only(tmp_path):
    path = tmp_path / "01_x.ipynb"

    def write(**papermill):
        path.write_text(json.dumps({"cells": [], "metadata": {"papermill": papermill}}))

    write(duration=90.0, parameters={"SCALE": "quick"}, exception=None)
    assert last_minutes(path, "quick") == 1.5
    assert last_minutes(path, "smoke") is None
    write(duration=90.0, parameters={"SCALE": "quick"}, exception=True)  # it failed: its time says little
    assert last_minutes(path, "quick") is None
    assert last_minutes(tmp_path / "missing.ipynb", "quick") is None
