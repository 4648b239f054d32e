"""The bad-input classes of docs/bad-input.md: one example each, run through the real ``peakdrill.cli.main``.

``python tests/badinput.py`` regenerates docs/bad-input.md from what the examples print now;
tests/test_bad_input.py checks every example exits 2 with exactly the documented message, so
the table stays true.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from peakdrill.cli import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "bad-input.md"

PROFILE = """\
name: checkout-peak
stages:
  - {name: warm-up, duration: 15s, users: 10}
  - {name: steady, duration: 60s, users: 30}
"""
DRILL = """\
name: peak-drill
target: {url: "http://127.0.0.1:9"}
load: {profile: profile.yaml, locustfile: locust.py}
"""
BOMB = "name: x\n" + "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))
ACCESS_LINE = '127.0.0.1 - - [{day}/Nov/{year}:10:00:00 +0000] "GET /api/products/1 HTTP/1.1" 200 512 "-" "curl"\n'
# Special entries of Case.files, made by make_files.
DIRECTORY, SYMLINK_LOOP, FIFO, SPARSE_50_MIB = "<directory>", "<symlink loop>", "<fifo>", "<50 MiB>"


@dataclass(frozen=True)
class Case:
    kind: str  # the class of bad input
    argv: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    shown: str = ""  # what the table says about the input, when the command alone does not

    @property
    def command(self) -> str:
        env = " ".join(f"{name}={value}" for name, value in self.env.items())
        return (env + " " if env else "") + "peakdrill " + " ".join(self.argv)


def _profile(stage_extra: str) -> str:
    return PROFILE.replace("users: 30}", f"users: 30, {stage_extra}}}")


CASES = (
    Case("not UTF-8 text", ("profile", "check", "profile.yaml"), {"profile.yaml": b"name: caf\xe9\n"},
         shown="Latin-1 bytes"),
    Case("binary content", ("profile", "check", "profile.yaml"), {"profile.yaml": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"},
         shown="a PNG image"),
    Case("YAML that is a list", ("drill", "drill.yaml"), {"drill.yaml": "- name: peak-drill\n"}, shown="`- name: peak-drill`"),
    Case("YAML that is a scalar", ("profile", "check", "profile.yaml"), {"profile.yaml": "checkout peak\n"},
         shown="`checkout peak`"),
    Case("YAML alias bomb", ("profile", "check", "profile.yaml"), {"profile.yaml": BOMB}, shown="9 levels of 9 aliases"),
    Case("YAML nested too deep", ("profile", "check", "profile.yaml"), {"profile.yaml": "name: " + "[" * 100 + "]" * 100},
         shown="100 nested lists"),
    Case("YAML duplicate keys", ("profile", "check", "profile.yaml"), {"profile.yaml": PROFILE + "name: other\n"},
         shown="`name:` twice"),
    Case("wrong type", ("profile", "check", "profile.yaml"), {"profile.yaml": PROFILE.replace("users: 30", "users: many")},
         shown="`users: many`"),
    Case("NaN", ("profile", "check", "profile.yaml"), {"profile.yaml": PROFILE.replace("duration: 60s", "duration: .nan")},
         shown="`duration: .nan`"),
    Case("infinity", ("profile", "check", "profile.yaml"), {"profile.yaml": _profile("spawn_rate: .inf")},
         shown="`spawn_rate: .inf`"),
    Case("negative", ("profile", "check", "profile.yaml"), {"profile.yaml": PROFILE.replace("users: 30", "users: -5")},
         shown="`users: -5`"),
    Case("zero where it means nothing", ("profile", "check", "profile.yaml"),
         {"profile.yaml": PROFILE.replace("duration: 60s", "duration: 0")}, shown="`duration: 0`"),
    Case("number too large to act on", ("profile", "check", "profile.yaml"),
         {"profile.yaml": PROFILE.replace("users: 30", "users: 1000000000000")}, shown="`users: 1000000000000`"),
    Case("bad calibration file", ("plan", "--users", "1000", "--calibration", "calibration.json"),
         {"calibration.json": '{"source": "measured", "requests_per_cpu_second": -3, "memory_per_user_bytes": 4096, '
                              '"base_rss_bytes": 1}'}, shown='`"requests_per_cpu_second": -3`'),
    Case("bad endpoint map", ("load", "profile.yaml", "--host", "http://127.0.0.1:9", "--locustfile", "locust.py",
                              "--endpoints", "map.yaml"),
         {"profile.yaml": PROFILE, "locust.py": "", "map.yaml": "name: my-shop\nendpoints:\n  product: GET /p/{id}\n"},
         shown="a map without `list_products`"),
    Case("bad experiment file", ("drill", "drill.yaml"),
         {"drill.yaml": DRILL + "timeline:\n  - {at: 10s, experiment: outage.yaml}\n", "profile.yaml": PROFILE,
          "locust.py": "", "outage.yaml": "title: outage\ntitle: again\n"}, shown="`title:` twice in the experiment"),
    Case("bad CSV counts", ("profile", "from-csv", "counts.csv", "-o", "replay.yaml"), {"counts.csv": "requests\n120\nnan\n"},
         shown="a count `nan`"),
    Case("not an access log", ("profile", "from-log", "access.log", "-o", "replay.yaml"),
         {"access.log": "".join(f"line {n} of something else\n" for n in range(20))}, shown="20 lines of prose"),
    Case("access log spanning years", ("profile", "from-log", "access.log", "-o", "replay.yaml"),
         {"access.log": ACCESS_LINE.format(day="01", year="1999") + ACCESS_LINE.format(day="29", year="2026")},
         shown="one line from 1999"),
    Case("a directory where a file is expected", ("profile", "check", "profiles"), {"profiles": DIRECTORY}),
    Case("a symlink loop", ("profile", "check", "profile.yaml"), {"profile.yaml": SYMLINK_LOOP},
         shown="profile.yaml -> profile.yaml"),
    Case("a FIFO where a file is expected", ("profile", "check", "profile.yaml"), {"profile.yaml": FIFO},
         shown="made by mkfifo"),
    Case("a path through a file", ("profile", "check", "notes.txt/profile.yaml"), {"notes.txt": "notes\n"}),
    Case("a file far too large", ("profile", "check", "profile.yaml"), {"profile.yaml": SPARSE_50_MIB}, shown="50 MiB"),
    Case("output path that is a directory", ("profile", "from-csv", "counts.csv", "-o", "profiles"),
         {"counts.csv": "requests\n120\n", "profiles": DIRECTORY}),
    Case("output path that cannot be created", ("profile", "from-csv", "counts.csv", "-o", "notes.txt/replay.yaml"),
         {"counts.csv": "requests\n120\n", "notes.txt": "notes\n"}),
    Case("output directory that is a file", ("report", "run", "--output-dir", "notes.txt"), {"notes.txt": "notes\n"}),
    Case("reports directory that is a file", ("drill", "drill.yaml", "--reports-dir", "notes.txt"),
         {"drill.yaml": DRILL, "profile.yaml": PROFILE, "locust.py": "", "notes.txt": "notes\n"}),
    Case("option: zero scale", ("drill", "drill.yaml", "--scale", "0")),
    Case("option: not a number", ("drill", "drill.yaml", "--scale", "abc")),
    Case("option: zero workers", ("drill", "drill.yaml", "--workers", "0")),
    Case("option: too many local workers", ("load", "profile.yaml", "--host", "http://127.0.0.1:9", "--workers", "5000"),
         {"profile.yaml": PROFILE}),
    Case("option: NaN", ("calibrate", "--think-time", "nan,1")),
    Case("option: zero duration", ("profile", "from-csv", "counts.csv", "-o", "replay.yaml", "--bucket", "0s")),
    Case("option: more users than a plan can size", ("plan", "--users", "1000000000000")),
    Case("option: a plan too big to list", ("plan", "--users", "100000000", "--max-users-per-worker", "1",
                                            "--workers-per-master", "1")),
    Case("environment variable: not a number", ("drill", "drill.yaml"), env={"PEAKDRILL_SCALE": "abc"}),
    Case("environment variable: not yes/no", ("drill", "drill.yaml"), env={"PEAKDRILL_NO_REPORT": "maybe"}),
)


def make_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == DIRECTORY:
            path.mkdir()
        elif content == SYMLINK_LOOP:
            path.symlink_to(path.name)
        elif content == FIFO:
            os.mkfifo(path)
        elif content == SPARSE_50_MIB:
            with open(path, "wb") as stream:
                stream.truncate(50 * 2**20)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def run_case(case: Case, root: Path) -> tuple[int, str]:
    """Exit code and stderr of the case, run in ``root`` (its files made there) with its environment."""
    make_files(root, case.files)
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    stderr = io.StringIO()
    os.chdir(root)
    os.environ.update(case.env)
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(list(case.argv))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return code, stderr.getvalue()


def message(stderr: str) -> str:
    """The one line a user reads: argparse prints its usage first, peakdrill one line."""
    return [line for line in stderr.splitlines() if line.strip()][-1]


def render(results: list[tuple[Case, int, str]]) -> str:
    rows = "\n".join(f"| {case.kind} | `{case.command}`{' (' + case.shown + ')' if case.shown else ''} | {code} | "
                     f"`{text.replace('|', '&#124;')}` |" for case, code, text in results)
    return f"""# Bad input: what peakdrill says

Every mistake in a file or option peakdrill reads ends with exit code 2 and one line naming the
file (or option), the field, the problem and the fix, quoting at most about 80 characters of the
bad value; nothing runs. Files are read through one loader (`peakdrill/spec/safeyaml.py`): at most
8 MiB, strict UTF-8, YAML without duplicate keys, with nesting (64 levels) and alias expansion
(1,000,000 values) bounded. A bug in peakdrill itself is exit 70, never 1 (see the README's exit
code table); data inside a run directory is checked by the report's readers (RunDirError).

The messages below are exactly what each example prints now: this page is generated by
`python tests/badinput.py`, and `tests/test_bad_input.py` fails when a message changes without it.
Argparse's own errors (an option's value) print the usage lines first; the table shows the last line.

Beyond these examples, `tests/test_fuzz_specs.py` feeds every spec loader (drills, profiles, endpoint
maps, calibrations, CSV counts, access logs, the chaos provider's argument checks, experiment files,
option values, integrity files) random and mutated inputs: each must give a valid result or a `PeakdrillError`,
never another exception and never a hang; under `CI=true` at least 2,000 inputs per loader family.
Its hostile-input strategies and the property live in `tests/fuzzkit.py`, for any other reader.
(Running as root, an unreadable file cannot be made; it takes the same path as the symlink loop.)

| class | example | exit | message |
| --- | --- | --- | --- |
{rows}
"""


def generate(scratch: Path) -> str:
    results = []
    for index, case in enumerate(CASES):
        root = scratch / f"case-{index:02d}"
        root.mkdir()
        code, stderr = run_case(case, root)
        results.append((case, code, message(stderr)))
    return render(results)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        DOC.write_text(generate(Path(scratch)), encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
