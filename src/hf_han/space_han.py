"""
A Hugging Face Space for a saved HAN: `python -m hf_han.demo --model DIR --write_space OUT` writes a folder that
runs the demo (`demo.py`) as a Space, with no hf-han needed there:

- `app.py`: the demo, folded with the package modules it imports into one file (as saved models' code is, see
  `remote_code_han.py`), set to serve the model;
- `requirements.txt`: what the app and the model's own code import;
- `README.md`: the Space's metadata (sdk, app file, the model, license) and a line about it;
- `model/`: a copy of the model's files, unless the Space loads the model from the Hub (`model_id`).

Push the folder to a Space (`huggingface-cli upload --repo-type space org/name OUT`), or run `python OUT/app.py`.
"""

import json
import re
import shutil
from pathlib import Path

from .modelcard_han import GENERATED_MARKER
from .remote_code_han import fold_module


# the files a model folder needs to load; checkpoints, optimizer states and training leftovers stay behind
MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "README.md")
MODEL_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "*.py")
REQUIREMENTS = (
    "torch>=2.4",
    "transformers>=5,<6",
    "tokenizers>=0.22,<0.24",
    "huggingface_hub>=1.0",
    "numpy>=1.24",
    "regex>=2023.0",
    "jinja2>=3",
)


def write_space(model: str, output_dir: str | Path, model_id: str | None = None, space_id: str | None = None) -> Path:
    """
    Write a Space for `model` (a saved folder, or a Hub id) to `output_dir` and return the folder.

    Args:
        model: the saved model's folder, or its Hub id.
        output_dir: where the Space's files go (created; files of the same names are replaced).
        model_id: the Hub id the Space loads the model from. By default a Hub id `model` is used as it is, and a
            folder is copied into the Space (`model/`), which then needs nothing from the Hub.
        space_id: the Space's own Hub id (`org/name`): the model folder's generated card then links to it.
    """
    import gradio

    from .demo import card_details

    for name, value in (("model_id", model_id), ("space_id", space_id)):
        if value is not None and not re.fullmatch(r"[\w.-]+/[\w.-]+", value):
            raise ValueError(f"`{name}` must be a Hub id such as org/name, got {value!r}.")
    output = Path(output_dir)
    is_folder = Path(model).is_dir()
    if not is_folder and model_id is None:
        model_id = model
    if is_folder and not (Path(model) / "config.json").is_file():
        raise ValueError(f"{model} holds no config.json: give the folder a HAN model was saved to.")
    output.mkdir(parents=True, exist_ok=True)
    served = model_id
    if model_id is None:  # the Space holds the model
        copy = output / "model"
        if copy.exists():
            shutil.rmtree(copy)
        copy.mkdir()
        names = {name for name in MODEL_FILES if (Path(model) / name).is_file()}
        for pattern in MODEL_PATTERNS:
            names.update(path.name for path in Path(model).glob(pattern))
        for name in sorted(names):
            shutil.copy2(Path(model) / name, copy / name)
        served = "model"

    source = fold_module("demo")
    line = "DEFAULT_MODEL = None\n"
    if source.count(line) != 1:
        raise RuntimeError("demo.py must set DEFAULT_MODEL = None exactly once for the Space writer.")
    (output / "app.py").write_text(source.replace(line, f"DEFAULT_MODEL = {served!r}\n"), encoding="utf-8")
    (output / "requirements.txt").write_text(
        "\n".join((*REQUIREMENTS, f"gradio=={gradio.__version__}")) + "\n", encoding="utf-8"
    )

    name, _ = card_details(model)
    title = (name or (model_id or Path(model).resolve().name).split("/")[-1])[:60]
    license = _card_license(model)
    metadata = [
        "---",
        f"title: {_yaml_string(title)}",
        "emoji: 📄",
        "colorFrom: blue",
        "colorTo: red",
        "sdk: gradio",
        f"sdk_version: {gradio.__version__}",
        "app_file: app.py",
        "pinned: false",
        *([f"license: {_yaml_string(license)}"] if license else []),
        *(["models:", f"- {_yaml_string(model_id)}"] if model_id else []),
        "---",
    ]
    about = (
        f"[{model_id}](https://huggingface.co/{model_id})" if model_id else "the model in `model/`"
    ) + ", a Hierarchical Attention Network (Yang et al., 2016) trained with hf-han"
    body = (
        f"# {title}\n\nA demo of {about}: paste a document to see its label and where the model looked (sentences "
        "by their weight, words by their attention), or upload a CSV or JSON-lines file to classify many.\n"
    )
    (output / "README.md").write_text("\n".join(metadata) + "\n\n" + body, encoding="utf-8")
    if space_id and is_folder:
        _link_from_card(Path(model) / "README.md", space_id)
        if model_id is None:
            shutil.copy2(Path(model) / "README.md", output / "model" / "README.md")
    return output


def _card_license(model: str) -> str | None:
    try:
        from huggingface_hub import ModelCard

        card = ModelCard.load(str(Path(model) / "README.md") if Path(model).is_dir() else model)
    except Exception:  # no card: no license to repeat
        return None
    value = card.data.to_dict().get("license")
    return value if isinstance(value, str) else None


def _yaml_string(value: str) -> str:
    """A double-quoted YAML scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(value)


def _link_from_card(card_path: Path, space_id: str) -> None:
    """Add a line that links the Space to a card hf-han generated (a user's own card is left alone)."""
    if not card_path.is_file():
        return
    text = card_path.read_text(encoding="utf-8")
    link = f"Try it in the demo: [{space_id}](https://huggingface.co/spaces/{space_id})."
    if GENERATED_MARKER not in text or link in text:
        return
    lines = text.splitlines(keepends=True)
    heading = next((index for index, line in enumerate(lines) if line.startswith("# ")), None)
    if heading is None:
        return
    lines.insert(heading + 1, f"\n{link}\n")
    card_path.write_text("".join(lines), encoding="utf-8")


__all__ = ["write_space"]
