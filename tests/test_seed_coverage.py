"""data/seed_coverage.md maps every claim of the seed lesson to a real lesson section, and says how the course treats it.

Each row names a notebook in lessons/ and one of its markdown headings, character for character, and a status:
`taught`, `corrected, because …` or `qualified, because …`. A renamed heading or a status without its reason fails
here, with every bad row listed at once.
"""

import functools
import json
import re

from course_lib.paths import LESSONS_DIR, REPO_ROOT

COVERAGE = REPO_ROOT / "data" / "seed_coverage.md"
HEADER = ["#", "seed claim", "where", "status"]
WHERE = re.compile(r"^lessons/(\d\d_[A-Za-z0-9_]+\.ipynb) › (.+)$")
STATUS = re.compile(r"^(corrected|qualified), because (.+)$")
HEADING = re.compile(r"^(#{1,6}) (.*)$")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def coverage_table() -> tuple[list[str], list[list[str]]]:
    """The header and the rows of the first markdown table in data/seed_coverage.md."""
    lines = COVERAGE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    header, separator, *rows = table
    assert set(separator.replace("|", "").strip()) <= {"-", ":", " "}, f"the second table line is not a separator: {separator}"
    return _cells(header), [_cells(row) for row in rows]


def well_formed_rows() -> list[list[str]]:
    """The rows with four cells (the shape test reports the others)."""
    return [row for row in coverage_table()[1] if len(row) == len(HEADER)]


@functools.cache
def headings(notebook: str) -> frozenset[str]:
    """The text of every markdown heading in a lesson, after its leading #s and one space."""
    nb = json.loads((LESSONS_DIR / notebook).read_text(encoding="utf-8"))
    found = set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for line in source.splitlines():
            match = HEADING.match(line)
            if match:
                found.add(match.group(2).rstrip())
    return frozenset(found)


def _show(row: list[str]) -> str:
    return " | ".join(row)


def test_the_table_has_the_four_columns_and_enough_rows():
    header, rows = coverage_table()
    assert header == HEADER, f"the table's columns must be exactly {HEADER}, found {header}"
    malformed = [_show(row) for row in rows if len(row) != len(HEADER) or not all(row)]
    assert not malformed, "rows without exactly four non-empty cells (a '|' inside a cell splits it):\n" + "\n".join(malformed)
    assert len(rows) >= 40, f"only {len(rows)} rows: the seed lesson states far more claims than that"


def test_rows_are_numbered_one_to_n_without_gaps():
    _, rows = coverage_table()
    numbers = [row[0] for row in rows]
    expected = [str(n) for n in range(1, len(rows) + 1)]
    pairs = enumerate(zip(numbers, expected, strict=True), 1)
    wrong = [f"row {i} is numbered {number!r}" for i, (number, want) in pairs if number != want]
    assert not wrong, "the # column must run 1..N in order:\n" + "\n".join(wrong)


def test_every_row_points_at_an_existing_lesson_heading():
    rows = well_formed_rows()
    bad = []
    for number, _claim, where, _status in rows:
        match = WHERE.match(where)
        if not match:
            bad.append(f"#{number}: {where!r} is not 'lessons/NN_name.ipynb › heading'")
            continue
        notebook, heading = match.groups()
        if not (LESSONS_DIR / notebook).is_file():
            bad.append(f"#{number}: lessons/{notebook} does not exist")
        elif heading not in headings(notebook):
            bad.append(f"#{number}: lessons/{notebook} has no heading {heading!r}")
    assert not bad, f"{len(bad)} rows point at no lesson section:\n" + "\n".join(bad)


def test_every_status_is_taught_or_gives_its_reason():
    rows = well_formed_rows()
    bad = []
    for number, _claim, _where, status in rows:
        if status == "taught":
            continue
        match = STATUS.match(status)
        if not match:
            bad.append(f"#{number}: {status[:60]!r} is neither 'taught' nor 'corrected/qualified, because …'")
        elif len(match.group(2).split()) < 4:
            bad.append(f"#{number}: {status!r} gives no real reason")
    assert not bad, "bad statuses:\n" + "\n".join(bad)


def _rows_mentioning(rows, word):
    return [row for row in rows if word.lower() in row[1].lower()]


def test_the_known_errors_of_the_seed_are_marked():
    rows = well_formed_rows()
    checks = {
        "encoder-decoder": lambda row: row[3].startswith("corrected, because"),
        "JAX": lambda row: row[3].startswith("corrected, because"),
        "16 × 3.8B": lambda row: row[3].startswith("corrected, because") and row[2].startswith("lessons/08_"),
        "GitHub Models": lambda row: row[3].startswith("corrected, because"),
        "distill": lambda row: row[2].startswith("lessons/03_"),
    }
    problems = []
    for word, ok in checks.items():
        found = _rows_mentioning(rows, word)
        if not found:
            problems.append(f"no row's claim mentions {word!r}")
        elif not any(ok(row) for row in found):
            problems.append(f"the rows mentioning {word!r} are not marked as expected: " + "; ".join(_show(r) for r in found))
    assert not problems, "\n".join(problems)


def test_unverified_claims_are_listed_and_no_team_notes_are_cited():
    text = COVERAGE.read_text(encoding="utf-8")
    assert "\n## Not verified\n" in text, "the file needs a '## Not verified' section after the table"
    section = text.split("\n## Not verified\n", 1)[1]
    assert re.search(r"^\* ", section, re.M), "the 'Not verified' section lists no claim"
    assert "shared/" not in text, "learners don't have the team's shared notes: cite the original sources"
