"""The repository stands alone, and its citations resolve.

1. Every S/C number cited in the code, tests, benchmarks, schema and prose (`S7`, `C12`, ranges
   such as `S1–S6` or `C5-C8`) is defined in docs/spec.md, and the spec defines S1–S20 and
   C1–C50, each once. A citation is a capital S or C with one or two digits: three digits are
   something else (ruff rule codes such as `S105`, PKCE's `S256`).
2. No file of the repository points outside it: no sibling folder of the checkout, no
   machine path, no outside planning repository or its capitalised documents (the
   repository's own documents are docs/spec.md and its siblings), no copy of the source
   article. The forbidden words are spelt in pieces below, so that a plain `git grep` for
   them over the repository finds nothing at all, this guard included.

Files are those git knows (tracked, or new and not ignored); without git, every file under
the root except ignored build and tool folders.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec.md"
CITING = ("slotgraph/", "tests/", "bench/", "scripts/", "docs/")
CITING_FILES = ("schema.graphql", "README.md", "BENCHMARKS.md", "CHANGELOG.md")
SKIPPED_DIRS = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
THIS_FILE = "tests/test_docs.py"  # its examples are bad on purpose

CITATION = re.compile(
    r"(?<![\w.$/#])(?P<kind>[SC])(?P<first>\d{1,2})(?!\d)"
    r"(?:\s?[–-]\s?(?P<kind2>[SC])?(?P<last>\d{1,2})(?!\d))?(?!\w)"
)
DEFINITION = re.compile(r"^- \*\*(?P<number>[SC]\d+)\b|^#+ .*\((?P<heading>[SC]\d+)\)", re.M)
SIBLING = "../" + "shared"
PLANNING = "steer" + "ing"
OUTSIDE = re.compile(
    re.escape(SIBLING)
    + r"|/work/|(?i:"
    + PLANNING
    + r")|(?<![\w/])(?:SPEC|DESIGN|NOTES|ROUND2)\.md"
    r"|hubspot-connect-calendar"
)  # SPEC.md and friends in capitals only: docs/spec.md is ours


def repository_files() -> list[str]:
    """Paths relative to the root, '/'-separated."""
    git = shutil.which("git")
    if git is not None and (ROOT / ".git").exists():
        listed = subprocess.run(
            [git, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*")
        if path.is_file()
        and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)
        and not any(part.endswith(".egg-info") for part in path.parts)
    )


def read_text(name: str) -> str | None:
    try:
        return (ROOT / name).read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary files cite nothing


def cited_numbers(text: str) -> Iterator[str]:
    """Every S/C number `text` cites, ranges expanded (`C12–C14` → C12, C13, C14)."""
    for match in CITATION.finditer(text):
        kind, first, last = match["kind"], int(match["first"]), match["last"]
        if last is None or (match["kind2"] or kind) != kind or int(last) < first:
            yield f"{kind}{first}"
            if last is not None:
                yield f"{match['kind2'] or kind}{int(last)}"
            continue
        yield from (f"{kind}{n}" for n in range(first, int(last) + 1))


def defined_numbers(spec: str) -> Counter[str]:
    return Counter(match["number"] or match["heading"] for match in DEFINITION.finditer(spec))


def outside_mentions(text: str) -> list[str]:
    return [match.group(0) for match in OUTSIDE.finditer(text)]


def undefined_citations(files: Iterable[tuple[str, str]], defined: Iterable[str]) -> list[str]:
    known = set(defined)
    return [
        f"{name}: {number}"
        for name, text in files
        for number in sorted(set(cited_numbers(text)))
        if number not in known
    ]


def citing_files() -> list[tuple[str, str]]:
    found = []
    for name in repository_files():
        if name in ("docs/spec.md", THIS_FILE):
            continue
        if not (name.startswith(CITING) or name in CITING_FILES):
            continue
        text = read_text(name)
        if text is not None:
            found.append((name, text))
    return found


# --- the repository --------------------------------------------------------------------------


def test_spec_defines_s1_to_s20_and_c1_to_c50_once_each() -> None:
    defined = defined_numbers(SPEC.read_text(encoding="utf-8"))

    expected = {f"S{n}" for n in range(1, 21)} | {f"C{n}" for n in range(1, 51)}
    assert set(defined) == expected
    assert [number for number, count in defined.items() if count > 1] == []


def test_every_cited_number_is_defined_in_the_spec() -> None:
    defined = defined_numbers(SPEC.read_text(encoding="utf-8"))
    files = citing_files()

    assert len(files) > 50  # the walk found the tree, not an empty folder
    assert undefined_citations(files, defined) == []


def test_no_file_points_outside_the_repository() -> None:
    offending = {}
    for name in repository_files():
        if name == THIS_FILE:
            continue
        text = read_text(name)
        if text is not None and (mentions := outside_mentions(text)):
            offending[name] = sorted(set(mentions))

    assert offending == {}


# --- the checks catch what they are for ---------------------------------------------------------


def test_citations_are_found_in_every_form() -> None:
    text = "S7 and (C12–C14), S1-S6, C5-C8; S105 and S256 are not ours; x.S3, C2a neither"

    assert sorted(set(cited_numbers(text)), key=lambda n: (n[0], int(n[1:]))) == [
        "C5",
        "C6",
        "C7",
        "C8",
        "C12",
        "C13",
        "C14",
        "S1",
        "S2",
        "S3",
        "S4",
        "S5",
        "S6",
        "S7",
    ]


def test_a_number_the_spec_does_not_define_is_reported() -> None:
    spec = "## Part\n- **S1 Connect.** text\n### Limits (S11)\n- **C1 Status.** text\n"
    files = [("slotgraph/a.py", '"""Rule S1, S11 and C1."""'), ("README.md", "see C2 and S21")]

    assert undefined_citations(files, defined_numbers(spec)) == ["README.md: C2", "README.md: S21"]


def test_mentions_of_outside_files_are_reported() -> None:
    text = (
        f"see {SIBLING}/bench/x.py, the {PLANNING.title()} repository, SPEC.md, `DESIGN.md` "
        "and NOTES.md, /work/shared, reference/hubspot-connect-calendar.ja.txt"
    )

    assert outside_mentions(text) == [
        SIBLING,
        PLANNING.title(),
        "SPEC.md",
        "DESIGN.md",
        "NOTES.md",
        "/work/",
        "hubspot-connect-calendar",
    ]
    assert outside_mentions("see docs/spec.md, docs/conventions.md and [spec](spec.md)") == []
