"""Measure reply cleaning on another reply parser's own test suite, for scripts/bench_replies.

It reads the suite of Crisp's email-reply-parser (its test/test.js and test/fixtures/, from a
checkout of that repository): for each test that reads a fixture and says what the new words
are, it runs engage's cleaning on the fixture and compares. If a directory holding that npm
package is given (--crisp), the same tests are run on it too, scored the same way.

For each parser it prints:
- exact: the new words are exactly what the test expects (lines compared without trailing
  spaces, blank lines at the ends ignored);
- words hidden: some line of the person's words is missing from the new words (moved into the
  quote or the signature) - the failure that matters most;
- quote kept: nothing hidden, but more is shown than the person's words (a quote or signature
  left in).
Tests that only check a pattern ("the first part mentions X") count as exact when the pattern
is found and as words hidden when it is not.

Nothing of that suite is copied here: it is read from the path given.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from engage.replies.clean import clean_text

_FUNC = re.compile(r"export function (\w+)\(test\)\s*\{(.*?)\n\}", re.S)
_JS_STRING = r'"((?:[^"\\]|\\.)*)"'


@dataclass
class Case:
    name: str
    fixture: str
    accessor: str  # "first" (the first fragment) or "visible" (the visible text)
    exact: str | None  # the expected new words, or None when only patterns are checked
    patterns: list[str]


def _js(s: str) -> str:
    return json.loads(f'"{s}"')


def read_suite(test_js: Path) -> list[Case]:
    source = test_js.read_text(encoding="utf-8")
    common = re.search(r"const COMMON_FIRST_FRAGMENT = '(.*?)';", source, re.S)
    common_text = common.group(1).replace("\\n\\\n", "\n") if common else ""
    cases: list[Case] = []
    for name, body in _FUNC.findall(source):
        fixture = re.search(r'get_email\("([^"]+)"\)|fixtures/([\w.-]+)\.txt', body)
        if not fixture:
            continue  # a test with its mail written inline, not a fixture
        file = fixture.group(1) or fixture.group(2)
        visible = "getVisibleText" in body or "parseReply(" in body
        accessor = "visible" if visible else "first"
        exact = None
        if re.search(r"test\.equal\(COMMON_FIRST_FRAGMENT,", body):
            exact = common_text
        else:
            literal = re.search(r"test\.equal\(" + _JS_STRING + r",\s*(?:\w+\.)*\w+", body)
            if literal:
                exact = _js(literal.group(1))
        patterns = [
            p.replace("\\/", "/")
            for p in re.findall(r"test\.equal\(true,\s*/(.+?)/\w*\.test\(fragments\[0\]", body)
        ]
        if re.search(r"\.test\(fragments\[[2-9]\]", body):
            continue  # the new words are spread over several fragments: no one text to compare
        if exact is None and not patterns:
            continue  # checks only counts or flags, which say nothing of the words
        cases.append(Case(name, file, accessor, exact, patterns))
    return cases


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").rstrip().split("\n")]


def score(case: Case, got: str) -> str:
    """'exact', 'hidden' or 'quote kept'."""
    if case.exact is None:
        ok = all(re.search(p, got, re.M) for p in case.patterns)
        return "exact" if ok else "hidden"
    want, have = _lines(case.exact), _lines(got)
    if want == have:
        return "exact"
    shown = {line.strip() for line in have}
    if any(line.strip() and line.strip() not in shown for line in want):
        return "hidden"
    return "quote kept"


_NODE = """
import fs from "fs";
const mod = await import(process.argv[2]);
const Parser = mod.default;
const out = {};
for (const file of JSON.parse(fs.readFileSync(0, "utf-8"))) {
  const email = new Parser().read(fs.readFileSync(file, "utf-8"));
  const first = email.getFragments()[0];
  out[file] = {first: first ? first.toString() : "", visible: email.getVisibleText()};
}
console.log(JSON.stringify(out));
"""


def run_crisp(package_dir: Path, files: list[str]) -> dict[str, dict[str, str]]:
    entry = package_dir / "node_modules" / "email-reply-parser" / "dist" / "emailreplyparser.js"
    if not entry.exists():
        entry = package_dir / "dist" / "emailreplyparser.js"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "run.mjs"
        script.write_text(_NODE, encoding="utf-8")
        done = subprocess.run(
            ["node", str(script), entry.resolve().as_uri()],
            input=json.dumps(files),
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(done.stdout)


def report(title: str, results: dict[str, str], seconds: float, show: bool) -> None:
    verdicts = list(results.values())
    counts = {k: verdicts.count(k) for k in ("exact", "hidden", "quote kept")}
    print(
        f"{title}: {counts['exact']}/{len(results)} exact, {counts['hidden']} words hidden, "
        f"{counts['quote kept']} quote kept ({seconds * 1000:.1f} ms for all)"
    )
    if show:
        for name, verdict in results.items():
            if verdict != "exact":
                print(f"    {verdict:10} {name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("suite", type=Path, help="a checkout of crisp-oss/email-reply-parser")
    ap.add_argument("--crisp", type=Path, help="a directory where email-reply-parser is installed")
    ap.add_argument("-v", "--verbose", action="store_true", help="name each case not exact")
    args = ap.parse_args()
    test_js = args.suite / "test" / "test.js"
    if not test_js.exists():
        print(f"No test/test.js under {args.suite}: give a checkout of the parser's repository.")
        return 2
    cases = read_suite(test_js)
    fixtures = args.suite / "test" / "fixtures"
    print(f"{len(cases)} tests of {test_js} that say what the new words are")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")

    texts = {c.fixture: (fixtures / f"{c.fixture}.txt").read_text(encoding="utf-8") for c in cases}
    start = time.perf_counter()
    ours = {c.name: score(c, clean_text(texts[c.fixture]).text) for c in cases}
    report("engage", ours, time.perf_counter() - start, args.verbose)

    if args.crisp:
        files = sorted({str(fixtures / f"{c.fixture}.txt") for c in cases})
        start = time.perf_counter()
        got = run_crisp(args.crisp, files)
        seconds = time.perf_counter() - start
        theirs = {
            c.name: score(c, got[str(fixtures / f"{c.fixture}.txt")][c.accessor]) for c in cases
        }
        report("email-reply-parser", theirs, seconds, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
