"""Make every file under data/ from the Python installation itself (nothing is downloaded).

    python scripts/make_data.py            # (re)write data/corpus/, data/tasks/ and data/MANIFEST.json
    python scripts/make_data.py --check    # only compare with the files on disk; exit 1 if any differs

The output is deterministic: the same Python version gives byte-identical files. Both corpora come
from CPython, so they change a little between Python versions; data/MANIFEST.json records the
version and the sha256 of every file, and tests/test_data.py checks the shipped files against it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import sys
import sysconfig
import unicodedata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # so `python scripts/make_data.py` finds course_lib without installing it

from course_lib.tasks import TASKS, make_splits  # noqa: E402

DATA_DIR = REPO_ROOT / "data"
MAX_FILE_BYTES = 5 * 1024 * 1024  # keep every shipped file small

# Standard-library modules of the code corpus: small, readable, pure-Python modules (about 420 kB).
STDLIB_FILES = [
    "abc.py",
    "bisect.py",
    "colorsys.py",
    "contextlib.py",
    "copy.py",
    "dataclasses.py",
    "fnmatch.py",
    "fractions.py",
    "functools.py",
    "graphlib.py",
    "heapq.py",
    "json/decoder.py",
    "json/encoder.py",
    "numbers.py",
    "operator.py",
    "pprint.py",
    "queue.py",
    "random.py",
    "reprlib.py",
    "sched.py",
    "statistics.py",
    "string.py",
    "textwrap.py",
]


def normalise(text: str) -> str:
    """Plain text: NFC Unicode, '\\n' line ends, no trailing spaces, exactly one final newline."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def python_docs_text() -> str:
    """The help() topics of the language reference (pydoc_data.topics), in sorted key order.

    Each topic is already plain text that starts with its title; topics are separated by two blank lines.
    """
    from pydoc_data.topics import topics

    return "\n\n".join(normalise(topics[key]) for key in sorted(topics))


def python_stdlib_text() -> str:
    """The source of the STDLIB_FILES, each introduced by a comment line naming the file."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for name in STDLIB_FILES:
        source = (stdlib / name).read_bytes().decode("utf-8")
        parts.append(normalise(f"# ---- Lib/{name} ----\n\n{source}"))
    return "\n\n".join(parts)


def task_jsonl(name: str) -> str:
    """One JSON object per line: {"split": ..., "source": ..., "target": ...}."""
    lines = []
    for split, pairs in make_splits(name).items():
        for source, target in pairs:
            lines.append(json.dumps({"split": split, "source": source, "target": target}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def oneills_tunes_text() -> str:
    """O'Neill's 1850 Irish tunes from music21's bundled corpus (read from disk, nothing downloaded), in the
    course's ABC subset (course_lib.music.corpus_line), one tune per line, in file and tune order."""
    from music21 import corpus

    from course_lib.music import corpus_line, drop_rare_tokens

    paths = sorted(Path(p) for p in corpus.getCorePaths(fileExtensions=("abc",)) if "oneills1850" in str(p))
    blocks = [b for p in paths for b in re.split(r"\n(?=X:)", p.read_text(encoding="latin-1"))]
    lines = [corpus_line(block) for block in blocks if block.lstrip().startswith("X:")]
    return "\n".join(drop_rare_tokens([line for line in lines if line])) + "\n"


def build_files() -> dict[str, bytes]:
    """Every file of data/ (path relative to data/ -> its bytes), MANIFEST.json last."""
    files = {
        "corpus/python_docs.txt": python_docs_text().encode("utf-8"),
        "corpus/python_stdlib.txt": python_stdlib_text().encode("utf-8"),
        "tunes/oneills_1850.txt": oneills_tunes_text().encode("utf-8"),
    }
    for name in TASKS:
        files[f"tasks/{name}.jsonl"] = task_jsonl(name).encode("utf-8")
    manifest = {
        "made_by": "scripts/make_data.py",
        "python": platform.python_version(),
        "sources": {
            "corpus/python_docs.txt": "pydoc_data.topics of CPython (PSF License)",
            "corpus/python_stdlib.txt": "CPython standard library: "
            + ", ".join(f"Lib/{n}" for n in STDLIB_FILES),
            "tasks": "course_lib.tasks.make_splits (synthetic)",
            "tunes/oneills_1850.txt": "music21 corpus oneills1850/*.abc (O'Neill's Music of Ireland, 1850; "
            "public domain; ABC by Norbert Paap), reduced by course_lib.music.corpus_line",
        },
        "files": {
            path: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for path, data in files.items()
        },
    }
    files["MANIFEST.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with data/ instead of writing")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="where to write (default: data/)")
    args = parser.parse_args(argv)

    files = build_files()
    differ = []
    for relative, data in files.items():
        if len(data) > MAX_FILE_BYTES:
            raise SystemExit(
                f"{relative} would be {len(data):,} bytes, over the limit of {MAX_FILE_BYTES:,}."
            )
        path = args.out / relative
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                differ.append(relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(
            f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path} "
            f"({len(data):,} bytes)"
        )
    if differ:
        print(
            f"differs from what scripts/make_data.py makes: {', '.join(differ)}. Run `make data`.",
            file=sys.stderr,
        )
        manifest = args.out / "MANIFEST.json"
        made_with = json.loads(manifest.read_text())["python"] if manifest.is_file() else None
        if made_with and made_with != platform.python_version():
            print(
                f"(data/ was made with Python {made_with}; this is Python {platform.python_version()}, whose "
                "documentation and standard library differ a little.)",
                file=sys.stderr,
            )
        return 1
    if args.check:
        print(f"data/ is up to date ({len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
