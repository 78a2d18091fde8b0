"""
Explain one prediction of a trained HAN: write its attention as an HTML page and a PNG, and print it as text.

    python examples/explain.py --model outputs/han-imdb-quickstart --text "A wonderful film. I loved it!"
    python examples/explain.py --model org/han-yelp --file review.txt --output_dir explanations

`--word_scale sqrt_sentence` (default) shades each word by its weight times the square root of its sentence's
weight, as in the paper's figures; `--word_scale word` by its weight within the sentence alone.
"""

import argparse
from pathlib import Path

from transformers import pipeline

import hf_han  # noqa: F401 (registers the HAN classes and the document-classification pipeline)
from hf_han.visualization_han import WORD_SCALES, attention_to_markdown, save_attention_html, save_attention_png


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="A saved HAN folder or a Hub repository id.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="The document to explain.")
    source.add_argument("--file", help="A UTF-8 text file holding the document.")
    parser.add_argument("--output_dir", default=".", help="Where attention.html and attention.png go.")
    parser.add_argument("--name", default="attention", help="Base name of the written files.")
    parser.add_argument("--word_scale", choices=WORD_SCALES, default="sqrt_sentence")
    parser.add_argument("--no_png", action="store_true", help="Skip the PNG (which needs matplotlib).")
    args = parser.parse_args(argv)

    text = args.text if args.text is not None else Path(args.file).read_text(encoding="utf-8")
    explainer = pipeline("document-classification", model=args.model)
    explanation = explainer(text, explain=True)[0]

    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = [save_attention_html(explanation, output_dir / f"{args.name}.html", args.word_scale)]
    if not args.no_png:
        written.append(save_attention_png(explanation, output_dir / f"{args.name}.png", args.word_scale))
    print(attention_to_markdown(explanation, args.word_scale))
    print("\nWrote " + ", ".join(str(path) for path in written))
    return explanation


if __name__ == "__main__":
    main()
