"""docs/fidelity.md and the presets cannot drift: every row whose key names an expression
gives, evaluated now, the value the table's lthlib column states."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "fidelity.md"
MODULE = re.compile(r"\b(lthlib(?:\.\w+)+)")


def rows(sections: dict | None = None) -> list[tuple[int, list[str]]]:
    """Every body row of the five-column tables (setting | paper | lthlib | key | verdict);
    ``sections`` (optional) receives each ``##`` section's rows."""
    out, header, section = [], False, None
    for n, line in enumerate(DOC.read_text().splitlines(), 1):
        if line.startswith("## "):
            section = line[3:]
        if not line.startswith("|"):
            header = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:5] == ["setting", "paper (where stated)", "lthlib", "key", "verdict"]:
            header = True
            continue
        if header and len(cells) == 5 and not set(cells[0]) <= set("-: "):
            out.append((n, cells))
            if sections is not None:
                sections.setdefault(section, []).append(cells)
    return out


def evaluate(key: str):
    key = key.strip("`")
    namespace = {}
    for name in MODULE.findall(key):  # import the longest importable prefix of each dotted name
        parts = name.split(".")
        for i in range(len(parts), 1, -1):
            try:
                importlib.import_module(".".join(parts[:i]))
                break
            except ImportError:
                continue
    import lthlib

    namespace["lthlib"] = lthlib
    return eval(key, namespace)  # noqa: S307 -- the project's own document


def test_the_table_has_rows_and_verdicts():
    found = rows()
    assert len(found) > 100
    for n, (setting, paper, value, key, verdict) in found:
            assert verdict.startswith(("match", "deviation")), f"docs/fidelity.md:{n}: verdict {verdict!r}"


def test_every_keyed_row_states_lthlib_as_it_is():
    stale = []
    for n, (setting, paper, value, key, verdict) in rows():
        if key in ("-", ""):
            continue
        literal = re.match(r"`([^`]*)`", value)  # the value, then words if any
        assert literal, f"docs/fidelity.md:{n}: a keyed row's lthlib column must start with a `literal`, not {value!r}"
        want, got = ast.literal_eval(literal.group(1)), evaluate(key)
        if isinstance(got, tuple) and isinstance(want, list) or isinstance(got, list) and isinstance(want, tuple):
            got, want = list(got), list(want)
        if got != want:
            stale.append(f"docs/fidelity.md:{n} ({setting}): the table says {want!r}, {key} is {got!r}")
    assert not stale, "\n".join(stale)


def test_the_summary_counts_the_verdicts():
    sections: dict = {}
    rows(sections)
    counted = []
    for cells in sections.values():
        kinds = ["deviation: unverified" if v.startswith("deviation: unverified") else
                 "match" if v.startswith("match") else "deviation" for *_, v in cells]
        counted.append([kinds.count("match"), kinds.count("deviation"), kinds.count("deviation: unverified"),
                        len(kinds)])
    counted.append([sum(c[i] for c in counted) for i in range(4)])
    text = DOC.read_text().split("## Summary", 1)[1]
    summary = [[int(x) for x in line.strip().strip("|").split("|")[1:]]
               for line in text.splitlines() if re.match(r"\|[^|]+\|( \d+ \|){4}$", line.strip())]
    assert summary == counted
