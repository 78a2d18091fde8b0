"""
What a HAN model writes beside its weights: the code files for `trust_remote_code=True` (with the bare model and the
document-classification pipeline named in `config.json`) and its generated model card; and `push_to_hub` with that
card.
"""

import os
import tempfile

from transformers.utils import logging

from .modelcard_han import HANModelCardData, generate_model_card, is_generated_card


logger = logging.get_logger(__name__)


class HANHubMixin:
    """
    Mixed into `HANPreTrainedModel` before `PreTrainedModel`: `save_pretrained` and `push_to_hub` as there, plus the
    model card of `self.model_card_data` and the entries that let a saved folder load as remote code.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # what the model card says; `HANTrainer` fills it during training, users may set any field
        self.model_card_data = HANModelCardData()

    def save_pretrained(self, save_directory, *args, is_main_process: bool = True, **kwargs):
        """
        Save as [`~transformers.PreTrainedModel.save_pretrained`] does, plus the code files for
        `trust_remote_code=True` and a model card `README.md` built from `self.model_card_data`. A `README.md`
        that hf-han did not write is left as it is.
        """
        if self._auto_class is not None:
            # `auto_map` lists only the saved class; a head's folder should also load as the bare model via AutoModel
            self.config.auto_map = {
                "AutoModel": "modeling_han.HANModel",
                **(getattr(self.config, "auto_map", None) or {}),
            }
            # importing the pipeline here also makes transformers copy its file beside the model's code
            from .pipeline_han import add_pipeline_entry

            add_pipeline_entry(self.config)
        result = super().save_pretrained(save_directory, *args, is_main_process=is_main_process, **kwargs)
        if is_main_process:
            if self._auto_class is not None:
                from .remote_code_han import fold_saved_code

                fold_saved_code(save_directory)  # four code files instead of the ~25 transformers copied
            self.save_model_card(save_directory)
        return result

    def save_model_card(self, save_directory: str | os.PathLike) -> None:
        """Write (or rewrite) the generated model card `README.md` in `save_directory`."""
        path = os.path.join(save_directory, "README.md")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                if not is_generated_card(handle.read()):
                    logger.info(f"{path} was not written by hf-han; leaving it unchanged.")
                    return
        try:
            card = generate_model_card(self.model_card_data, self)
        except ImportError as error:  # jinja2, which huggingface_hub needs to render templates, is optional
            logger.warning(f"No model card written: {error}")
            return
        card.save(path)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str | None = None,
        commit_description: str | None = None,
        private: bool | None = None,
        token: bool | str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        max_shard_size: int | str | None = "50GB",
        tags: list[str] | None = None,
    ):
        """
        Upload the model, its code files and its generated model card to the Hub repository `repo_id`.

        Arguments as in [`~transformers.utils.PushToHubMixin.push_to_hub`]. Unlike the generic implementation, which
        replaces `README.md` with a template card, the uploaded card is the one `save_pretrained` writes from
        `self.model_card_data` (with `repo_id` in its usage snippets).
        """
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        self.model_card_data.model_id = repo_id
        for tag in tags or []:
            if tag not in self.model_card_data.tags:
                self.model_card_data.tags.append(tag)
        with tempfile.TemporaryDirectory() as work_dir:
            self.save_pretrained(work_dir, max_shard_size=max_shard_size)
            return api.upload_folder(
                repo_id=repo_id,
                folder_path=work_dir,
                commit_message=commit_message or "Upload HAN model",
                commit_description=commit_description,
                revision=revision,
                create_pr=create_pr,
            )


__all__ = ["HANHubMixin"]
