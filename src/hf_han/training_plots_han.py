"""
Pictures of how a model trained, for its model card: the training curves (training and validation loss, and the
validation metrics, against the optimisation step) from a `Trainer`'s `log_history`, and the confusion matrix of a
single-label classifier on a held-out split. Both need matplotlib (optional) and are drawn with its Agg backend.
"""

from pathlib import Path

import numpy as np

from .safe_text_han import neutralise


# a confusion matrix of more classes than this is unreadable as a picture; the card keeps its numbers instead
MAX_CONFUSION_LABELS = 40
_RUNTIME_KEYS = ("_runtime", "_samples_per_second", "_steps_per_second", "_model_preparation_time")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("Training pictures need matplotlib: pip install matplotlib") from error
    return plt


def save_training_curves(log_history: list[dict], path: str | Path, dpi: int = 110) -> Path | None:
    """
    Training loss (and validation loss) on the left, validation metrics on the right, against the step, from a
    `Trainer`'s `state.log_history`. Returns `None`, drawing nothing, when the history holds no loss.
    """
    train = [(row["step"], row["loss"]) for row in log_history if "loss" in row and "step" in row]
    evaluations = [row for row in log_history if "eval_loss" in row and "step" in row]
    if not train and not evaluations:
        return None
    metrics = sorted(
        {
            key
            for row in evaluations
            for key, value in row.items()
            if key.startswith("eval_") and key != "eval_loss" and not key.endswith(_RUNTIME_KEYS)
            if isinstance(value, (int, float))
        }
    )
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2 if metrics else 1, figsize=(10 if metrics else 5.5, 3.6), squeeze=False)
    loss_axis = axes[0, 0]
    if train:
        loss_axis.plot(*zip(*train), label="training loss", color="#2563eb", linewidth=1.2)
    if evaluations:
        steps = [row["step"] for row in evaluations]
        loss_axis.plot(
            steps, [row["eval_loss"] for row in evaluations], "o-", label="validation loss", color="#dc2626"
        )
    loss_axis.set_xlabel("step")
    loss_axis.set_ylabel("loss")
    loss_axis.legend(frameon=False)
    loss_axis.grid(alpha=0.3)
    if metrics:
        metric_axis = axes[0, 1]
        for key in metrics:
            points = [(row["step"], row[key]) for row in evaluations if key in row]
            metric_axis.plot(*zip(*points), "o-", label=f"validation {key[len('eval_') :]}")
        metric_axis.set_xlabel("step")
        metric_axis.legend(frameon=False)
        metric_axis.grid(alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path


def confusion_counts(labels, predictions, num_labels: int) -> np.ndarray:
    """`(num_labels, num_labels)` counts: row = true label, column = predicted label."""
    labels, predictions = np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} must be equal 1-D shapes.")
    known = (labels >= 0) & (labels < num_labels)  # -100 and the like mark rows without a label
    return np.bincount(labels[known] * num_labels + predictions[known], minlength=num_labels**2).reshape(
        num_labels, num_labels
    )


def save_confusion_matrix(
    labels, predictions, label_names: list[str], path: str | Path, split: str = "test", dpi: int = 110
) -> Path | None:
    """
    The confusion matrix of a single-label classifier (`labels` and `predictions` `(n,)` class ids), each cell
    shaded by its share of the true label's row and labelled with its count. Returns `None`, drawing nothing, when
    there are more than `MAX_CONFUSION_LABELS` labels or no labelled rows.
    """
    num_labels = len(label_names)
    if num_labels > MAX_CONFUSION_LABELS:
        return None
    counts = confusion_counts(labels, predictions, num_labels)
    if not counts.sum():
        return None
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    plt = _pyplot()
    size = min(3 + 0.45 * num_labels, 16)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    names = [neutralise(name) for name in label_names]
    axis.set_xticks(
        range(num_labels), names, rotation=45 if num_labels > 2 else 0, ha="right" if num_labels > 2 else "center"
    )
    axis.set_yticks(range(num_labels), names)
    for text in axis.get_xticklabels() + axis.get_yticklabels():
        text.set_parse_math(False)  # "$" in a label is text
    if num_labels <= 20:
        for row in range(num_labels):
            for column in range(num_labels):
                color = "white" if shares[row, column] > 0.5 else "black"
                axis.text(column, row, f"{counts[row, column]:,}", ha="center", va="center", color=color, fontsize=8)
    accuracy = np.trace(counts) / counts.sum()
    axis.set_xlabel("predicted label")
    axis.set_ylabel("true label")
    axis.set_title(f"{neutralise(split)} split: {counts.sum():,} documents, accuracy {accuracy:.4f}", fontsize=10)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="share of the true label")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path


__all__ = ["confusion_counts", "save_confusion_matrix", "save_training_curves"]
