"""How many of twitter-text's conformance cases engage's counting gets right.

twitter-text (github.com/twitter/twitter-text) publishes its expected answers as YAML in
conformance/. This reads them from a copy of that repository (we do not keep them in ours)
and runs the ones engage promises to follow through engage.social.counting:

  validate.yml  WeightedTweetsWithDiscountedEmojiCounterTest (config v3)
                UnicodeDirectionalMarkerCounterTest (the default config, v3)
                  -> weighted length and validity (x_length, x_valid)
                hashtags -> a text that is exactly one hashtag (find_spans)
  extract.yml   urls, urls_with_indices, urls_with_directional_markers, tco_urls_with_params,
                hashtags, hashtags_from_astral, hashtags_with_indices (find_spans)
  tlds.yml      every top-level domain twitter-text knows (find_spans)

Left out: the v1 and v2 configs (X uses v3), mentions, cashtags, replies and autolink, which
engage does not use, and validate.yml's isValidUrl sections (a different, stricter check of a
whole string as a URL, which engage never makes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from engage.social import counting


def _spans(text: str, kind: str) -> list[counting.Span]:
    return [span for span in counting.find_spans(text) if span.kind == kind]


def _weighted(case: dict) -> tuple[object, object]:
    want = case["expected"]
    got = {
        "weightedLength": counting.x_length(case["text"]),
        "valid": counting.x_valid(case["text"]),
    }
    return got, {"weightedLength": want["weightedLength"], "valid": want["valid"]}


def _valid_hashtag(case: dict) -> tuple[object, object]:
    tags = _spans(case["text"], "hashtag")
    got = len(tags) == 1 and (tags[0].start, tags[0].end) == (0, len(case["text"]))
    return got, case["expected"]


def _urls(case: dict) -> tuple[object, object]:
    return [span.value for span in _spans(case["text"], "url")], case["expected"]


def _urls_with_indices(case: dict) -> tuple[object, object]:
    got = [{"url": s.value, "indices": [s.start, s.end]} for s in _spans(case["text"], "url")]
    return got, case["expected"]


def _hashtags(case: dict) -> tuple[object, object]:
    return [span.value for span in _spans(case["text"], "hashtag")], case["expected"]


def _hashtags_with_indices(case: dict) -> tuple[object, object]:
    got = [
        {"hashtag": s.value, "indices": [s.start, s.end]} for s in _spans(case["text"], "hashtag")
    ]
    return got, case["expected"]


SECTIONS: dict[str, dict[str, Callable[[dict], tuple[object, object]]]] = {
    "validate.yml": {
        "WeightedTweetsWithDiscountedEmojiCounterTest": _weighted,
        "UnicodeDirectionalMarkerCounterTest": _weighted,
        "hashtags": _valid_hashtag,
    },
    "extract.yml": {
        "urls": _urls,
        "urls_with_indices": _urls_with_indices,
        "urls_with_directional_markers": _urls_with_indices,
        "tco_urls_with_params": _urls,
        "hashtags": _hashtags,
        "hashtags_from_astral": _hashtags,
        "hashtags_with_indices": _hashtags_with_indices,
    },
    "tlds.yml": {"country": _urls, "generic": _urls},
}


def check(folder: Path, show: int) -> int:
    """Run every case; print a line a section and the failures. Returns how many failed."""
    failed_total = 0
    for name, sections in SECTIONS.items():
        path = folder / name
        if not path.is_file():
            raise SystemExit(f"{path} is not there: give the conformance folder of twitter-text.")
        tests = yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for section, run in sections.items():
            cases = tests.get(section) or []
            failures = []
            for case in cases:
                got, want = run(case)
                if got != want:
                    failures.append((case, got, want))
            failed_total += len(failures)
            print(f"{name} {section}: {len(cases) - len(failures)} of {len(cases)} right")
            for case, got, want in failures[:show]:
                print(f"  FAIL {case['description']}")
                print(f"    text: {case['text']!r}"[:300])
                print(f"    want: {want!r}"[:300])
                print(f"    got:  {got!r}"[:300])
    return failed_total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="twitter-text's conformance/ folder")
    parser.add_argument("--show", type=int, default=20, help="failures to list a section")
    args = parser.parse_args()
    failed = check(args.folder, args.show)
    total = "all right" if not failed else f"{failed} wrong"
    print(f"== {total}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
