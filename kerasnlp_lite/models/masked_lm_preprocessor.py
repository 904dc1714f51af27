"""Raw text -> masked-LM training batches, masked on the fly (BERT's 80/10/10, RoBERTa's dynamic masking)."""

import math

import keras

from kerasnlp_lite.data.masking import mask_language_model
from kerasnlp_lite.models.preprocessor import Preprocessor, tokenize_segments
from kerasnlp_lite.tokenizers.packers import SegmentPacker
from kerasnlp_lite.utils.validation import check_positive_int, is_int
from kerasnlp_lite.utils.validation import check_fraction, check_id


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class MaskedLMPreprocessor(Preprocessor):
    """Strings (or sentence pairs) -> packed ids with masked tokens, their positions and targets.

    Each batch is tokenized, packed as `[start] A [sep] B [end]`
    (`SegmentPacker`, long texts lose tokens from their end, counted), then
    corrupted by `kerasnlp_lite.data.mask_language_model`: `selection_rate`
    of the real tokens are selected, of which `mask_rate` become the mask
    token, `random_rate` a random id and the rest stay (Devlin et al. 2019,
    section 3.1). The mask is drawn inside `tf.data` with a new seed per
    batch and per epoch, so every pass sees new masks: RoBERTa's dynamic
    masking (Liu et al. 2019, section 4.1).

    `training_batch` returns `x` = the backbone's inputs plus `mask_positions`
    `[B, M]`, `y` = `{"mlm_logits": mask_ids}` and `sample_weight` =
    `{"mlm_logits": mask_weights}` (1 for a real prediction, 0 for the padding
    of `mask_positions`), the inputs and targets of `BertPretrainer`,
    `AlbertPretrainer` and `RobertaPretrainer`. A sentence-level label (NSP,
    sentence order) given as `y` is passed on as `y["sentence"]`; the
    pretrainer renames it to its output.

    Args:
        tokenizer: a `kerasnlp_lite.tokenizers` tokenizer.
        sequence_length: packed length L.
        mask_token_id: the `[MASK]` (`<mask>`) id.
        start_token_id, end_token_id: ids framing each example (`[CLS]`,
            `[SEP]`; RoBERTa `<s>`, `</s>`).
        sep_token_id: ids between two segments; default `end_token_id`
            (RoBERTa: `[2, 2]`).
        pad_token_id: padding id.
        segment_ids: include `segment_ids` (BERT, ALBERT yes; RoBERTa no).
        selection_rate, mask_rate, random_rate: BERT's 15% / 80% / 10%.
        max_selections: width M of `mask_positions`; default
            `ceil(selection_rate * L)`, enough for every selection.
        seed: base seed of the masks (None: different masks every run).

    Example:
    >>> preprocessor = MaskedLMPreprocessor(tokenizer, 128, mask_token_id=103, start_token_id=101, end_token_id=102)
    >>> pretrainer = BertPretrainer(backbone, next_sentence=False, preprocessor=preprocessor)
    >>> pretrainer.fit(["raw text", "more raw text"], epochs=3)  # new masks every epoch
    """

    makes_targets = True
    stochastic = True

    def __init__(
        self,
        tokenizer,
        sequence_length,
        mask_token_id,
        start_token_id=None,
        end_token_id=None,
        sep_token_id=None,
        pad_token_id=0,
        segment_ids=True,
        selection_rate=0.15,
        mask_rate=0.8,
        random_rate=0.1,
        max_selections=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(tokenizer, **kwargs)
        check_positive_int(sequence_length, "sequence_length")
        vocabulary_size = tokenizer.vocabulary_size
        self.mask_token_id = check_id(mask_token_id, "mask_token_id", vocabulary_size)
        self.start_token_id = check_id(start_token_id, "start_token_id", vocabulary_size, allow_none=True)
        self.end_token_id = check_id(end_token_id, "end_token_id", vocabulary_size, allow_none=True)
        if isinstance(sep_token_id, (list, tuple)):
            sep_token_id = [check_id(i, "sep_token_id", vocabulary_size) for i in sep_token_id]
        else:
            sep_token_id = check_id(sep_token_id, "sep_token_id", vocabulary_size, allow_none=True)
        self.sep_token_id = sep_token_id
        self.pad_token_id = check_id(pad_token_id, "pad_token_id", vocabulary_size)
        if not isinstance(segment_ids, bool):
            raise TypeError(f"`segment_ids` must be a bool, got {segment_ids!r}.")
        self.selection_rate = check_fraction(selection_rate, "selection_rate", low_open=True)
        self.mask_rate = check_fraction(mask_rate, "mask_rate")
        self.random_rate = check_fraction(random_rate, "random_rate")
        if self.mask_rate + self.random_rate > 1.0 + 1e-9:
            raise ValueError(f"`mask_rate + random_rate` must be <= 1, got {mask_rate} + {random_rate}.")
        if max_selections is None:
            max_selections = max(1, math.ceil(selection_rate * sequence_length))
        check_positive_int(max_selections, "max_selections")
        if seed is not None and (not is_int(seed)):
            raise TypeError(f"`seed` must be None or an int, got {seed!r}.")
        self.sequence_length = sequence_length
        self.segment_ids = segment_ids
        self.max_selections = max_selections
        self.seed = seed
        self.packer = SegmentPacker(
            sequence_length,
            start_value=self.start_token_id if self.start_token_id is not None else [],
            end_value=self.end_token_id if self.end_token_id is not None else [],
            sep_value=sep_token_id,
            pad_value=self.pad_token_id,
            name="packer",
        )
        special = [self.start_token_id, self.end_token_id, self.pad_token_id]
        special += sep_token_id if isinstance(sep_token_id, list) else [sep_token_id]
        self._unselectable = tuple(sorted({i for i in special if i is not None}))

    def _pack(self, x):
        packed = dict(self.packer(tokenize_segments(self.tokenizer, x)))
        if not self.segment_ids:
            packed.pop("segment_ids", None)
        return packed

    def _mask(self, packed, seed):
        masked = mask_language_model(
            packed["token_ids"],
            self.tokenizer.vocabulary_size,
            self.mask_token_id,
            seed,
            selection_rate=self.selection_rate,
            mask_rate=self.mask_rate,
            random_rate=self.random_rate,
            unselectable_ids=self._unselectable,
            padding_mask=packed["padding_mask"],
            max_selections=self.max_selections,
        )
        inputs = {key: value for key, value in packed.items() if key != "num_truncated"}
        inputs["token_ids"] = masked["token_ids"]
        inputs["mask_positions"] = masked["mask_positions"]
        return inputs, masked["mask_ids"], masked["mask_weights"]

    def features(self, x):
        """Inputs with a fixed mask (seed 0 folded with `seed`): for `predict` on strings."""
        packed = self._pack(x)
        inputs, _, _ = self._mask(packed, [0 if self.seed is None else self.seed, 0])
        inputs["num_truncated"] = packed["num_truncated"]
        return inputs

    def training_batch(self, x, y=None, sample_weight=None, seed=None):
        if sample_weight is not None:
            raise ValueError("Masked-LM batches weight their own targets; `sample_weight` is not supported with text.")
        if seed is None:
            seed = [0 if self.seed is None else self.seed, 0]
        inputs, mask_ids, mask_weights = self._mask(self._pack(x), seed)
        targets = {"mlm_logits": mask_ids}
        if y is not None:
            targets["sentence"] = y
        return inputs, targets, {"mlm_logits": mask_weights}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "mask_token_id": self.mask_token_id,
                "start_token_id": self.start_token_id,
                "end_token_id": self.end_token_id,
                "sep_token_id": self.sep_token_id,
                "pad_token_id": self.pad_token_id,
                "segment_ids": self.segment_ids,
                "selection_rate": self.selection_rate,
                "mask_rate": self.mask_rate,
                "random_rate": self.random_rate,
                "max_selections": self.max_selections,
                "seed": self.seed,
            }
        )
        return config
