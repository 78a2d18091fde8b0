"""
Pictures of a HAN's attention on one document: a self-contained HTML page, a PNG (matplotlib) and Markdown.

Each takes an [`~explanation_han.Explanation`], as `pipeline("document-classification", ...)(text, explain=True)`
returns it: the predicted `label` and `score`, and `sentences`, each with its `attention` and its `words` (with
`attention` and character spans). Following Yang et al. (2016, section 3.5), a word's shade is either its weight
within the sentence (`word_scale="word"`) or that weight scaled by the square root of its sentence's weight
(`word_scale="sqrt_sentence"`), which keeps words of unimportant sentences from standing out.
"""

import math
import re
from pathlib import Path

from .explanation_han import Explanation
from .safe_text_han import escape_html, escape_markdown, neutralise


WORD_SCALES = ("word", "sqrt_sentence")
_SPACE_RUN = re.compile(r"\s+")


def word_shades(explanation: Explanation, word_scale: str = "sqrt_sentence") -> list[list[float]]:
    """Each word's shade in [0, 1], sentence by sentence, normalised so that the strongest word has 1."""
    if word_scale not in WORD_SCALES:
        raise ValueError(f"`word_scale` must be one of {WORD_SCALES}, got {word_scale!r}.")
    shades = []
    for sentence in explanation["sentences"]:
        factor = math.sqrt(sentence["attention"]) if word_scale == "sqrt_sentence" else 1.0
        shades.append([factor * word["attention"] for word in sentence["words"]])
    strongest = max((shade for sentence in shades for shade in sentence), default=0.0)
    return [[shade / strongest if strongest > 0 else 0.0 for shade in sentence] for sentence in shades]


def sentence_pieces(sentence) -> list[tuple[str, int | None]]:
    """
    A sentence as it was written: its words, each with its index in `sentence["words"]`, and the text between them
    (index `None`) taken from `sentence["text"]` through the words' offsets, so that punctuation stays attached
    ("film.") and spaces stay where they were. A run of white space shows as one space, or as a line break where it
    holds one. Words whose offsets do not fit the text are separated by one space.
    """
    text, offset = sentence.get("text"), sentence.get("start", 0)
    pieces, previous_end = [], None
    for index, word in enumerate(sentence["words"]):
        if previous_end is not None:
            gap = " "
            if text is not None and 0 <= previous_end - offset <= word["start"] - offset <= len(text):
                gap = _SPACE_RUN.sub(
                    lambda run: "\n" if "\n" in run.group() else " ",
                    text[previous_end - offset : word["start"] - offset],
                )
            if gap:
                pieces.append((gap, None))
        pieces.append((word["word"], index))
        previous_end = word["end"]
    return pieces


def attention_to_html_rows(explanation: Explanation, word_scale: str = "sqrt_sentence") -> str:
    """
    The picture as an HTML fragment with inline styles (no page, no stylesheet), for pages and apps that embed it:
    one row per sentence, its weight as a bar on the left, its words highlighted by their shade, in the text's own
    spacing. All text is escaped, so a document containing markup is shown as text.
    """
    shades = word_shades(explanation, word_scale)
    strongest_sentence = max((s["attention"] for s in explanation["sentences"]), default=1.0) or 1.0
    rows = []
    for sentence, sentence_shades in zip(explanation["sentences"], shades):
        words = "".join(
            escape_html(piece).replace("\n", "<br>")
            if index is None
            else f'<span class="w" style="background: rgba(220, 38, 38, {sentence_shades[index]:.3f}); '
            f'border-radius: 3px; padding: 0 1px" title="{sentence["words"][index]["attention"]:.4f}">'
            f"{escape_html(piece)}</span>"
            for piece, index in sentence_pieces(sentence)
        )
        width = 100 * sentence["attention"] / strongest_sentence
        rows.append(
            '<div class="row" style="display: flex; align-items: baseline; gap: 0.75em; margin: 0.2em 0">'
            f'<div class="bar" title="sentence weight {sentence["attention"]:.4f}" '
            'style="flex: 0 0 8em; height: 0.8em; background: #eef2ff">'
            f'<div style="width: {width:.1f}%; height: 100%; background: #2563eb"></div></div>'
            '<div class="weight" style="flex: 0 0 2.5em; font-variant-numeric: tabular-nums; color: #555; '
            f'font-size: 0.85em">{sentence["attention"]:.2f}</div>'
            f'<div class="text" style="line-height: 1.6">{words}</div></div>'
        )
    return "\n".join(rows)


def attention_legend(word_scale: str = "sqrt_sentence") -> str:
    scale = "word weight x sqrt(sentence weight)" if word_scale == "sqrt_sentence" else "word weight"
    return f"Blue bars: sentence attention. Red highlight: {scale}."


def attention_to_html(explanation: Explanation, word_scale: str = "sqrt_sentence", title: str | None = None) -> str:
    """A self-contained HTML page of [`attention_to_html_rows`] under a heading with the prediction."""
    rows = attention_to_html_rows(explanation, word_scale)
    heading = escape_html(title or f"Prediction: {explanation['label']} ({explanation['score']:.2f})")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{heading}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.6; }}
.legend {{ color: #555; font-size: 0.85em; }}
</style></head><body>
<h2>{heading}</h2>
<p class="legend">{attention_legend(word_scale)}</p>
{rows}
</body></html>
"""


def save_attention_html(
    explanation: Explanation, path: str | Path, word_scale: str = "sqrt_sentence", title: str | None = None
) -> Path:
    path = Path(path)
    path.write_text(attention_to_html(explanation, word_scale, title), encoding="utf-8")
    return path


def save_attention_png(
    explanation: Explanation,
    path: str | Path,
    word_scale: str = "sqrt_sentence",
    max_sentences: int = 20,
    line_width: int = 100,
    dpi: int = 120,
) -> Path:
    """
    A PNG of the same picture (for model cards and docs): sentence weights as bars on the left, the words on the
    right on a background of their shade. Needs matplotlib. Shows the first `max_sentences` sentences.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import to_rgba
    except ImportError as error:
        raise ImportError("Attention pictures as PNG need matplotlib: pip install matplotlib") from error

    sentences = explanation["sentences"][:max_sentences]
    shades = word_shades({"sentences": sentences}, word_scale)
    # lay words out in lines of at most `line_width` characters, each sentence starting a new line
    # pieces of text with their shade (None between words), the text's own line breaks kept
    lines = []  # (sentence index or None for continuation, [(piece, shade or None)])
    for index, (sentence, sentence_shades) in enumerate(zip(sentences, shades)):
        current, length, first = [], 0, True
        for piece, word in sentence_pieces(sentence):
            if piece == "\n" or (current and word is not None and length + len(piece) > line_width):
                lines.append((index if first else None, current))
                current, length, first = [], 0, False
                if word is None:
                    continue
            if word is None and not current and not piece.strip():
                continue  # no space at the start of a line
            current.append((piece, None if word is None else sentence_shades[word]))
            length += len(piece)
        lines.append((index if first else None, current))

    height = 0.9 + 0.28 * len(lines)
    figure = plt.figure(figsize=(11, height), dpi=dpi)
    top = 1 - 0.5 / height
    step = 0.28 / height
    figure.text(
        0.01,
        1 - 0.25 / height,
        neutralise(f"Prediction: {explanation['label']} ({explanation['score']:.2f})"),
        fontsize=11,
        weight="bold",
        va="center",
        parse_math=False,  # "$" in a label or word is text, not mathtext
    )
    strongest_sentence = max((s["attention"] for s in sentences), default=1.0) or 1.0
    renderer = figure.canvas.get_renderer()
    space = figure.text(0, 0, "n", fontsize=9, family="DejaVu Sans").get_window_extent(renderer=renderer).width
    space = 0.8 * space / figure.bbox.width  # a space: most of an "n"
    figure.texts[-1].remove()
    for row, (index, words) in enumerate(lines):
        y = top - (row + 0.5) * step
        if index is not None:
            weight = sentences[index]["attention"]
            figure.patches.append(
                plt.Rectangle(
                    (0.01, y - 0.35 * step),
                    0.1 * weight / strongest_sentence,
                    0.7 * step,
                    transform=figure.transFigure,
                    color="#2563eb",
                    figure=figure,
                )
            )
            figure.text(0.115, y, f"{weight:.2f}", fontsize=8, va="center", color="#555555")
        x = 0.16
        for piece, shade in words:
            if not piece.strip():  # a space between words
                x += space
                continue
            text = figure.text(
                x,
                y,
                neutralise(piece),
                fontsize=9,
                va="center",
                parse_math=False,
                family="DejaVu Sans",
                bbox=None
                if shade is None
                else {"facecolor": to_rgba("#dc2626", shade), "edgecolor": "none", "pad": 1},
            )
            box = text.get_window_extent(renderer=renderer)
            x += box.width / figure.bbox.width + (0.001 if shade is not None else 0)  # room for the highlight
    path = Path(path)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path


def attention_to_markdown(explanation: Explanation, word_scale: str = "sqrt_sentence", top_words: int = 3) -> str:
    """
    A Markdown rendering for model cards and terminals: one line per sentence with its weight as a bar of
    blocks, and its `top_words` most attended words in bold.
    """
    shades = word_shades(explanation, word_scale)
    lines = [f"**Prediction: {escape_markdown(explanation['label'])} ({explanation['score']:.2f})**", ""]
    for sentence, sentence_shades in zip(explanation["sentences"], shades):
        top = set(sorted(range(len(sentence_shades)), key=lambda i: -sentence_shades[i])[:top_words])
        runs = []  # [text, bold]: bold words that touch ("movie" ".") share one pair of "**"
        for piece, index in sentence_pieces(sentence):
            bold = index in top
            if runs and bold and runs[-1][1]:
                runs[-1][0] += piece
            else:
                runs.append([piece, bold])
        words = "".join(f"**{escape_markdown(text)}**" if bold else escape_markdown(text) for text, bold in runs)
        bar = "█" * round(10 * sentence["attention"])
        lines.append(f"- `{bar:<10}` {sentence['attention']:.2f} {words}")
    return "\n".join(lines)


__all__ = [
    "attention_legend",
    "attention_to_html",
    "attention_to_html_rows",
    "attention_to_markdown",
    "save_attention_html",
    "save_attention_png",
    "sentence_pieces",
    "word_shades",
]
