"""
Sentence splitting in many languages: exact-match accuracy per language on the "golden rules" of pySBD (hand-written
cases in 23 languages, from pySBD's test suite, as in the Pragmatic Segmenter), and speed on the 50,000 IMDB
reviews, for HANTokenizer's rules (version 2, language-agnostic, and by sentencex for a given language; version 1,
hf-han 0.1's), pySBD and sentencex; and the time on a megabyte of punctuation.

    git clone https://github.com/nipunsadvilkar/pySBD   # the golden rules are in its tests/lang/test_*.py
    pip install pysbd sentencex
    python benchmarks/bench_sentences.py --golden_rules pySBD/tests/lang [--speed_docs 20000]

The golden rules are read from the test files (never copied here): each `GOLDEN_*_RULES_TEST_CASES` list of (text,
expected sentences), `pytest.param` cases included. A document counts as right when the splitter's sentences, each
stripped of surrounding white space, equal the expected ones exactly. Run it alone for the timings.
"""

import argparse
import ast
import statistics
import sys
import time
from pathlib import Path

from hf_han import HANSegmenter


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from offline_datasets import download_imdb_csv  # noqa: E402


LANGUAGES = {
    "amharic": "am", "arabic": "ar", "armenian": "hy", "bulgarian": "bg", "burmese": "my", "chinese": "zh",
    "danish": "da", "deutsch": "de", "dutch": "nl", "english": "en", "french": "fr", "greek": "el", "hindi": "hi",
    "italian": "it", "japanese": "ja", "kazakh": "kk", "marathi": "mr", "persian": "fa", "polish": "pl",
    "russian": "ru", "slovak": "sk", "spanish": "es", "urdu": "ur",
}  # fmt: skip


def load_golden_rules(folder: Path) -> dict[str, list[tuple[str, list[str]]]]:
    cases = {}
    for path in sorted(folder.glob("test_*.py")):
        language = LANGUAGES.get(path.stem.removeprefix("test_"))
        if language is None:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = [target.id for target in getattr(node, "targets", []) if isinstance(target, ast.Name)]
            if not any(name.startswith("GOLDEN_") and name.endswith("_RULES_TEST_CASES") for name in names):
                continue
            for item in node.value.elts:
                if isinstance(item, ast.Call):  # pytest.param(text, expected, marks=...)
                    item = ast.Tuple(elts=item.args[:2], ctx=ast.Load())
                text, expected = ast.literal_eval(item)
                cases.setdefault(language, []).append((text, [sentence.strip() for sentence in expected]))
    if not cases:
        raise SystemExit(f"No golden rules in {folder}: point --golden_rules at pySBD's tests/lang folder.")
    return cases


def han_splitter(**settings):
    segmenters = {}

    def split(text: str, language: str) -> list[str]:
        if language not in segmenters:
            chosen = {key: (language if value == "<language>" else value) for key, value in settings.items()}
            segmenters[language] = HANSegmenter(**chosen)
        return [text[start:end] for start, end in segmenters[language].split_sentences(text)]

    return split


def splitters() -> dict:
    found = {
        "hf-han v2": han_splitter(),
        "hf-han v2 + language": han_splitter(language="<language>"),
        "hf-han v1 (0.1)": han_splitter(rules_version=1),
    }
    try:
        import pysbd

        segmenters = {}

        def pysbd_split(text, language):
            if language not in segmenters:
                segmenters[language] = pysbd.Segmenter(language=language, clean=False)
            return segmenters[language].segment(text)

        found["pySBD"] = pysbd_split
    except ImportError:
        print("pysbd is not installed: its column is left out")
    try:
        import sentencex

        found["sentencex"] = lambda text, language: list(sentencex.segment(language, text))
    except ImportError:
        print("sentencex is not installed: its columns are left out")
        del found["hf-han v2 + language"]
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--golden_rules", type=Path, default=Path(".cache/golden_rules"))
    parser.add_argument("--speed_docs", type=int, default=20000, help="IMDB reviews timed (pySBD: a tenth)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    cases = load_golden_rules(args.golden_rules)
    found = splitters()
    right = {name: {} for name in found}
    for name, split in found.items():
        for language, items in cases.items():
            right[name][language] = sum(
                [piece.strip() for piece in split(text, language) if piece.strip()] == expected
                for text, expected in items
            )
    total = sum(map(len, cases.values()))
    print(f"\nGolden rules: {total} documents in {len(cases)} languages; documents split exactly right")
    print("| language | documents | " + " | ".join(found) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in found) + " |")
    for language in sorted(cases):
        print(f"| {language} | {len(cases[language])} | " + " | ".join(str(right[n][language]) for n in found) + " |")
    print(
        f"| **all** | {total} | "
        + " | ".join(f"**{100 * sum(right[n].values()) / total:.1f}%**" for n in found)
        + " |"
    )
    non_latin = [language for language in cases if language in ("am", "ar", "hy", "my", "zh", "el", "hi", "ja", "mr",
                                                                 "fa", "ur", "bg", "kk", "ru")]  # fmt: skip
    count = sum(len(cases[language]) for language in non_latin)
    print(
        f"| non-Latin scripts | {count} | "
        + " | ".join(f"{100 * sum(right[n][language] for language in non_latin) / count:.1f}%" for n in found)
        + " |"
    )

    import csv

    with open(download_imdb_csv(), encoding="utf-8", newline="") as handle:
        documents = [row["review"] for row in csv.DictReader(handle)][: args.speed_docs]
    print(f"\nSpeed on {len(documents)} IMDB reviews (sentence splitting alone), median of {args.repeats}")
    for name, split in found.items():
        sample = documents[: len(documents) // 10] if name == "pySBD" else documents
        rates = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for document in sample:
                split(document, "en")
            rates.append(len(sample) / (time.perf_counter() - start))
        print(f"{name:24s} {statistics.median(rates):10.0f} documents/s")

    print("\nA megabyte of the same character (or pair), split by hf-han v2 (language-agnostic):")
    segmenter = HANSegmenter()
    for run in ("!", ".", "?", "…", "。", "a。", ". ", "?!"):
        text = run * (1_000_000 // len(run))
        start = time.perf_counter()
        sentences = segmenter.split_sentences(text)
        print(f"  {run!r:6s} {time.perf_counter() - start:6.3f} s, {len(sentences)} sentences")


if __name__ == "__main__":
    main()
