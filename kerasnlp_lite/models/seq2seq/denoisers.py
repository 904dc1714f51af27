"""Denoising pretraining tasks: BART (Lewis et al. 2020) and T5 span corruption (Raffel et al. 2020).

Both are `Seq2SeqLM`s (same model, loss and `generate`) with a
`denoising_examples` method that turns documents into teacher-forcing
examples of their objective:

- `BartDenoiser`: the encoder reads a noised document (any of BART's five
  transforms, `kerasnlp_lite.data.bart_noise`), the decoder reconstructs the
  original document.
- `T5Denoiser`: the encoder reads the document with some spans replaced by
  sentinels, the decoder writes the dropped spans, each behind its sentinel
  (`kerasnlp_lite.data.span_corruption`).

Example i of `denoising_examples(documents, seed)` is noised with the seed
`example_seed(seed, i)`: the same documents and seed give the same examples,
and example i does not depend on the other documents.
"""

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite.data.bart_noise import (
    document_rotation,
    sentence_permutation,
    text_infilling,
    token_deletion,
    token_masking,
)
from kerasnlp_lite.data.seeds import check_id, example_seed, make_seed
from kerasnlp_lite.data.seq2seq import seq2seq_examples
from kerasnlp_lite.data.span_corruption import span_corruption
from kerasnlp_lite.models.seq2seq.seq2seq_lm import Seq2SeqLM
from kerasnlp_lite.utils.validation import check_positive_int

# BART's transforms in the order they are applied (fairseq's `DenoisingDataset`: permute
# sentences, mask / delete / infill, rotate), with the arguments a `noise` entry may set.
NOISE_ARGUMENTS = {
    "sentence_permutation": ("sentence_end_id",),
    "token_masking": ("mask_ratio", "unselectable_ids"),
    "token_deletion": ("deletion_ratio", "unselectable_ids"),
    "text_infilling": ("mask_ratio", "poisson_lambda"),
    "document_rotation": (),
}
NOISE_FUNCTIONS = ("sentence_permutation", "token_masking", "token_deletion", "text_infilling", "document_rotation")
_NEEDS_MASK = ("token_masking", "text_infilling")

# BART's best combination (section 5.1 / 5.3): 30% of tokens infilled in Poisson(3) spans, sentences permuted.
DEFAULT_NOISE = {"text_infilling": {"mask_ratio": 0.3, "poisson_lambda": 3.0}, "sentence_permutation": {}}


def _alias_end_token(eos_id, end_token_id):
    """`eos_id` is another name for the Seq2SeqLM's `end_token_id`: the token the documents end with."""
    if eos_id is None:
        return end_token_id
    if end_token_id is not None and end_token_id != eos_id:
        raise ValueError(
            f"`eos_id`={eos_id} and `end_token_id`={end_token_id} differ: the documents must end with the "
            "token the decoder stops at; give one of them."
        )
    return eos_id


def _plain(value):
    """JSON-friendly copy of a noise argument (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def normalize_noise(noise):
    """A `noise` spec -> `{name: {argument: value}}` in application order.

    Accepts None (BART's best: `DEFAULT_NOISE`), a dict `{name: kwargs or
    None}`, or a list of names and `(name, kwargs)` pairs.
    """
    if noise is None:
        noise = DEFAULT_NOISE
    if isinstance(noise, str):
        noise = [noise]
    if isinstance(noise, dict):
        items = list(noise.items())
    elif isinstance(noise, (list, tuple)):
        items = []
        for entry in noise:
            if isinstance(entry, str):
                items.append((entry, None))
            elif isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str):
                items.append((entry[0], entry[1]))
            else:
                raise TypeError(f"`noise` entries must be names or (name, kwargs) pairs, got {entry!r}.")
    else:
        raise TypeError(f"`noise` must be None, a dict or a list of transform names, got {type(noise).__name__}.")
    given = {}
    for name, kwargs in items:
        if name not in NOISE_ARGUMENTS:
            raise ValueError(f"Unknown noise transform {name!r}; choose from {list(NOISE_FUNCTIONS)}.")
        if name in given:
            raise ValueError(f"Noise transform {name!r} is given twice.")
        kwargs = {} if kwargs is None else kwargs
        if not isinstance(kwargs, dict):
            raise TypeError(f"The arguments of {name!r} must be a dict, got {kwargs!r}.")
        unknown = sorted(set(kwargs) - set(NOISE_ARGUMENTS[name]))
        if unknown:
            raise ValueError(
                f"{name!r} takes the arguments {list(NOISE_ARGUMENTS[name])} here (the seed, mask, BOS and EOS "
                f"ids come from the denoiser), got {unknown}."
            )
        given[name] = {key: _plain(value) for key, value in kwargs.items()}
    if not given:
        raise ValueError("`noise` names no transform; give at least one of " f"{list(NOISE_FUNCTIONS)}.")
    return {name: given[name] for name in NOISE_FUNCTIONS if name in given}


def _documents(documents, name="documents_token_ids"):
    """Documents as flat int lists, plus the sentence ends where a document is given as sentences."""
    if isinstance(documents, np.ndarray) and documents.ndim == 2:
        documents = documents.tolist()
    if isinstance(documents, tf.RaggedTensor):
        documents = documents.to_list()
    if not isinstance(documents, (list, tuple)) or not documents:
        got = "an empty list" if isinstance(documents, (list, tuple)) else type(documents).__name__
        raise TypeError(f"`{name}` must be a non-empty list of token-id lists, got {got}.")
    flat, ends = [], []
    for i, document in enumerate(documents):
        if isinstance(document, (tf.Tensor, tf.RaggedTensor)):
            document = document.numpy().tolist() if isinstance(document, tf.Tensor) else document.to_list()
        document = list(document) if not isinstance(document, np.ndarray) else document.tolist()
        if document and isinstance(document[0], (list, tuple, np.ndarray)):  # a list of sentences
            sentences = [np.asarray(s).reshape(-1).tolist() for s in document]
            ids = [t for s in sentences for t in s]
            sentence_ends = np.zeros(len(ids), bool)
            sentence_ends[np.cumsum([len(s) for s in sentences if s]) - 1] = True
        else:
            ids, sentence_ends = document, None
        if not ids:
            raise ValueError(f"`{name}[{i}]` is empty.")
        if not all(isinstance(t, (int, np.integer)) and not isinstance(t, bool) for t in ids):
            raise TypeError(f"`{name}[{i}]` must hold integer token ids.")
        flat.append([int(t) for t in ids])
        ends.append(sentence_ends)
    return flat, ends


def _ragged(rows, dtype):
    lengths = [len(r) for r in rows]
    values = np.concatenate([np.asarray(r, dtype) for r in rows]) if sum(lengths) else np.zeros([0], dtype)
    return tf.RaggedTensor.from_row_lengths(values, np.asarray(lengths, "int64"))


def _map_examples(function, columns, seed):
    """`function(*row_i, example_seed(seed, i))` for every row i, in a `tf.data` pipeline (one trace, no
    per-example Python). `columns`: `(rows, dtype)` pairs. Returns the outputs as lists of id lists (the
    structure of `function`'s output: one list, or a dict of lists)."""
    dataset = tf.data.Dataset.from_tensor_slices(tuple(_ragged(rows, dtype) for rows, dtype in columns))
    base = make_seed(seed)
    dataset = dataset.enumerate().map(
        lambda index, row: function(*row, example_seed(base, index)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    outputs = dataset.ragged_batch(len(columns[0][0])).get_single_element()
    return tf.nest.map_structure(lambda ragged: ragged.to_list(), outputs)


def _check_range(documents, vocabulary_size, name="documents_token_ids"):
    for i, ids in enumerate(documents):
        low, high = min(ids), max(ids)
        if low < 0 or high >= vocabulary_size:
            raise ValueError(f"`{name}[{i}]` has ids in [{low}, {high}], outside [0, {vocabulary_size}).")


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class BartDenoiser(Seq2SeqLM):
    """BART pretraining: reconstruct a document from a noised copy (Lewis et al. 2020, section 2.2).

    A `Seq2SeqLM` (usually over a `BartBackbone`) whose `denoising_examples`
    build the examples: encoder input `[bos] noise(document) [eos]`, target
    `[bos] document [eos]`, decoder input the target shifted right behind the
    decoder start token (`kerasnlp_lite.data.seq2seq_examples`). The loss is
    the `Seq2SeqLM`'s: cross-entropy of every target token.

    Args:
        backbone: a seq2seq backbone.
        mask_token_id: the `<mask>` id; needed by `token_masking` and
            `text_infilling`.
        noise: which of the five transforms to apply, and their arguments: a
            dict `{name: kwargs}` or a list of names / `(name, kwargs)` pairs,
            names from `sentence_permutation`, `token_masking`,
            `token_deletion`, `text_infilling`, `document_rotation`. They are
            applied in that order (fairseq's), whatever order they are given
            in. Arguments: `mask_ratio` (masking, infilling),
            `deletion_ratio`, `poisson_lambda`, `unselectable_ids`,
            `sentence_end_id` (permutation; or give documents as lists of
            sentences). Default: BART's best, text infilling (30%,
            Poisson(3) spans) with sentence permutation.
        bos_id: optional id put before every document (BART's checkpoints:
            `<s>` = 0); None puts none.
        eos_id: the id put after every document: the `end_token_id` the
            decoder stops at (another name for it; default the backbone's).
        preprocessor, decoder_start_token_id, end_token_id, pad_token_id:
            as `Seq2SeqLM`.

    Example:
    >>> denoiser = BartDenoiser(BartBackbone.from_preset("bart_tiny"), mask_token_id=3, bos_id=0)
    >>> x, labels = denoiser.denoising_examples(documents, seed=0)   # documents: lists of sentences' ids
    >>> denoiser.compile(optimizer="adam"); denoiser.fit(x, labels)
    """

    def __init__(
        self,
        backbone,
        mask_token_id=None,
        noise=None,
        bos_id=None,
        eos_id=None,
        preprocessor=None,
        decoder_start_token_id=None,
        end_token_id=None,
        pad_token_id=None,
        **kwargs,
    ):
        end_token_id = _alias_end_token(eos_id, end_token_id)
        super().__init__(
            backbone,
            preprocessor=preprocessor,
            decoder_start_token_id=decoder_start_token_id,
            end_token_id=end_token_id,
            pad_token_id=pad_token_id,
            **kwargs,
        )
        vocabulary_size = backbone.vocabulary_size
        self.noise = normalize_noise(noise)
        if mask_token_id is None and any(name in self.noise for name in _NEEDS_MASK):
            raise ValueError(
                f"`mask_token_id` is required: the noise {[n for n in self.noise if n in _NEEDS_MASK]} inserts masks."
            )
        if mask_token_id is not None:
            mask_token_id = check_id(mask_token_id, "mask_token_id", vocabulary_size)
        self.mask_token_id = mask_token_id
        self.bos_id = None if bos_id is None else check_id(bos_id, "bos_id", vocabulary_size)
        self.eos_id = self.end_token_id
        self._noise_function = None
        # Fail now on bad transform arguments rather than at the first batch.
        self.noise_example([self.end_token_id] * 3, seed=0)

    def task_config(self):
        config = super().task_config()
        config.update(
            {"mask_token_id": self.mask_token_id, "noise": self.noise, "bos_id": self.bos_id, "eos_id": self.eos_id}
        )
        return config

    def _apply_noise(self, token_ids, sentence_ends, seed):
        specials = {"bos_id": self.bos_id, "eos_id": self.eos_id}
        for index, (name, kwargs) in enumerate(self.noise.items()):
            step_seed = tf.random.experimental.stateless_fold_in(seed, index)
            if name == "sentence_permutation":
                if "sentence_end_id" in kwargs:
                    token_ids = sentence_permutation(
                        token_ids, step_seed, sentence_end_id=kwargs["sentence_end_id"], **specials
                    )
                else:
                    token_ids = sentence_permutation(token_ids, step_seed, sentence_ends=sentence_ends, **specials)
            elif name == "token_masking":
                token_ids = token_masking(token_ids, self.mask_token_id, step_seed, **kwargs, **specials)
            elif name == "token_deletion":
                token_ids = token_deletion(token_ids, step_seed, **kwargs, **specials)
            elif name == "text_infilling":
                token_ids = text_infilling(token_ids, self.mask_token_id, step_seed, **kwargs, **specials)
            else:
                token_ids = document_rotation(token_ids, step_seed, **specials)
        return token_ids

    def noise_example(self, token_ids, seed, sentence_ends=None):
        """Noises one framed example (`[bos] ids [eos]`, int `[T]`) with this denoiser's transforms.

        Args:
            token_ids: int `[T]`; a leading `bos_id` and trailing `eos_id` stay in place.
            seed: int or int tensor `[2]`.
            sentence_ends: optional bool `[T]`, True at the last token of each
                sentence (for `sentence_permutation` without a
                `sentence_end_id`); default: the whole document is one sentence.

        Returns:
            int32 `[T']` tensor.
        """
        if self._noise_function is None:
            self._noise_function = tf.function(
                self._apply_noise,
                input_signature=[
                    tf.TensorSpec([None], tf.int32),
                    tf.TensorSpec([None], tf.bool),
                    tf.TensorSpec([2], tf.int64),
                ],
                reduce_retracing=True,
            )
        token_ids = tf.convert_to_tensor(np.asarray(token_ids, "int32"))
        if sentence_ends is None:
            sentence_ends = tf.zeros(tf.shape(token_ids), tf.bool)
        else:
            sentence_ends = tf.convert_to_tensor(np.asarray(sentence_ends, bool))
        seed = make_seed(int(seed) if isinstance(seed, np.integer) else seed)
        return self._noise_function(token_ids, sentence_ends, seed)

    def _frame(self, ids, sentence_ends):
        """`[bos] ids [eos]` (ends already present are kept, not doubled) and the sentence ends to match."""
        ends = np.zeros(len(ids), bool) if sentence_ends is None else np.asarray(sentence_ends, bool)
        if self.bos_id is not None and ids[0] != self.bos_id:
            ids, ends = [self.bos_id] + ids, np.concatenate([[False], ends])
        if ids[-1] != self.eos_id:
            ids, ends = ids + [self.eos_id], np.concatenate([ends, [False]])
        return ids, ends

    def denoising_examples(self, documents_token_ids, seed, encoder_sequence_length=None, decoder_sequence_length=None):
        """Documents -> `(x, labels)` of BART's objective (the four seq2seq inputs and the targets).

        Args:
            documents_token_ids: a list of documents, each a list of token ids
                or a list of sentences (lists of token ids; then the sentence
                boundaries are known to `sentence_permutation`). No padding;
                BOS and EOS are added (an EOS or BOS already there is kept).
            seed: int; example i is noised with `example_seed(seed, i)`.
            encoder_sequence_length, decoder_sequence_length: fixed widths
                (default the longest row); a longer row is an error, as in
                `seq2seq_examples`.

        Returns:
            `(x, labels)`: `x` with `encoder_token_ids` (the noised documents),
            `encoder_padding_mask`, `decoder_token_ids`, `decoder_padding_mask`;
            `labels` the original documents `[bos] ... [eos]`, padded.
        """
        documents, sentence_ends = _documents(documents_token_ids)
        _check_range(documents, self.backbone.vocabulary_size)
        if "sentence_permutation" in self.noise and "sentence_end_id" not in self.noise["sentence_permutation"]:
            flat = [i for i, ends in enumerate(sentence_ends) if ends is None]
            if flat:
                raise ValueError(
                    f"`sentence_permutation` needs sentence boundaries, but document {flat[0]} is a flat id list: "
                    "give documents as lists of sentences, or `noise={'sentence_permutation': {'sentence_end_id': "
                    "...}, ...}`."
                )
        framed = [self._frame(ids, ends) for ids, ends in zip(documents, sentence_ends)]
        targets = [ids for ids, _ in framed]
        sources = _map_examples(self._apply_noise, [(targets, "int32"), ([ends for _, ends in framed], bool)], seed)
        return seq2seq_examples(
            sources,
            targets,
            decoder_start_token_id=self.decoder_start_token_id,
            end_token_id=self.end_token_id,
            pad_token_id=self.pad_token_id,
            encoder_sequence_length=encoder_sequence_length,
            decoder_sequence_length=decoder_sequence_length,
        )


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class T5Denoiser(Seq2SeqLM):
    """T5 pretraining: span corruption (Raffel et al. 2020, section 3.1.4).

    `denoising_examples` replaces `noise_density` of each document's tokens,
    in spans of mean length `mean_noise_span_length`, by sentinels (one per
    span, counting down from `first_sentinel_id`, by default the last id of
    the vocabulary as T5's `<extra_id_0>`); the encoder reads the corrupted
    document then EOS, the target is each dropped span behind its sentinel,
    then EOS: "Thank you <X> me to your party <Y> </s>" ->
    "<X> for inviting <Y> last week . </s>".

    Args:
        backbone: a seq2seq backbone (usually `T5Backbone`); its vocabulary
            must hold the real tokens below the sentinels.
        noise_density: fraction of tokens dropped (0.15).
        mean_noise_span_length: mean dropped span length (3).
        num_sentinels: sentinel ids reserved at the top of the vocabulary
            (T5: 100); document ids must be below them.
        first_sentinel_id: `<extra_id_0>`; default `vocabulary_size - 1`.
        eos_id: the id after each input and target: the `end_token_id` the
            decoder stops at (another name for it; default the backbone's).
        preprocessor, decoder_start_token_id, end_token_id, pad_token_id:
            as `Seq2SeqLM`.
    """

    def __init__(
        self,
        backbone,
        noise_density=0.15,
        mean_noise_span_length=3.0,
        num_sentinels=100,
        first_sentinel_id=None,
        eos_id=None,
        preprocessor=None,
        decoder_start_token_id=None,
        end_token_id=None,
        pad_token_id=None,
        **kwargs,
    ):
        end_token_id = _alias_end_token(eos_id, end_token_id)
        super().__init__(
            backbone,
            preprocessor=preprocessor,
            decoder_start_token_id=decoder_start_token_id,
            end_token_id=end_token_id,
            pad_token_id=pad_token_id,
            **kwargs,
        )
        vocabulary_size = backbone.vocabulary_size
        if isinstance(noise_density, bool) or not isinstance(noise_density, (int, float)) or not 0 < noise_density < 1:
            raise ValueError(f"`noise_density` must be a float in (0, 1), got {noise_density!r}.")
        if (
            isinstance(mean_noise_span_length, bool)
            or not isinstance(mean_noise_span_length, (int, float))
            or mean_noise_span_length <= 0
        ):
            raise ValueError(f"`mean_noise_span_length` must be a float > 0, got {mean_noise_span_length!r}.")
        check_positive_int(num_sentinels, "num_sentinels")
        first_sentinel_id = vocabulary_size - 1 if first_sentinel_id is None else first_sentinel_id
        first_sentinel_id = check_id(first_sentinel_id, "first_sentinel_id", vocabulary_size)
        if num_sentinels > first_sentinel_id + 1:
            raise ValueError(
                f"`num_sentinels`={num_sentinels} does not fit below `first_sentinel_id`={first_sentinel_id}."
            )
        reserved = range(first_sentinel_id - num_sentinels + 1, first_sentinel_id + 1)
        for name in ("end_token_id", "pad_token_id", "decoder_start_token_id"):
            if getattr(self, name) in reserved:
                raise ValueError(
                    f"`{name}`={getattr(self, name)} is one of the sentinel ids "
                    f"[{reserved.start}, {reserved.stop - 1}]."
                )
        self.noise_density = float(noise_density)
        self.mean_noise_span_length = float(mean_noise_span_length)
        self.num_sentinels = int(num_sentinels)
        self.first_sentinel_id = first_sentinel_id
        self.eos_id = self.end_token_id
        self._corrupt_function = None

    @property
    def sentinel_ids(self):
        """The sentinel ids, `<extra_id_0>` first."""
        return list(range(self.first_sentinel_id, self.first_sentinel_id - self.num_sentinels, -1))

    def task_config(self):
        config = super().task_config()
        config.update(
            {
                "noise_density": self.noise_density,
                "mean_noise_span_length": self.mean_noise_span_length,
                "num_sentinels": self.num_sentinels,
                "first_sentinel_id": self.first_sentinel_id,
                "eos_id": self.eos_id,
            }
        )
        return config

    def corrupt_example(self, token_ids, seed):
        """Span-corrupts one document (int `[T]`, no EOS needed): dict of `inputs` and `targets`, both ending in EOS."""
        if self._corrupt_function is None:
            self._corrupt_function = tf.function(
                self._corrupt,
                input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([2], tf.int64)],
                reduce_retracing=True,
            )
        seed = make_seed(int(seed) if isinstance(seed, np.integer) else seed)
        return self._corrupt_function(tf.convert_to_tensor(np.asarray(token_ids, "int32")), seed)

    def _corrupt(self, ids, seed):
        return span_corruption(
            ids,
            seed,
            first_sentinel_id=self.first_sentinel_id,
            num_sentinels=self.num_sentinels,
            noise_density=self.noise_density,
            mean_noise_span_length=self.mean_noise_span_length,
            eos_id=self.eos_id,
        )

    def denoising_examples(self, documents_token_ids, seed, encoder_sequence_length=None, decoder_sequence_length=None):
        """Documents -> `(x, labels)` of span corruption (the four seq2seq inputs and the targets).

        Args:
            documents_token_ids: a list of documents, each a list of token ids
                (or of sentences, which are joined); ids must be below the
                sentinels; a trailing EOS is optional.
            seed: int; example i is corrupted with `example_seed(seed, i)`.
            encoder_sequence_length, decoder_sequence_length: fixed widths
                (default the longest row); a longer row is an error.

        Returns:
            `(x, labels)`: `encoder_token_ids` the corrupted documents + EOS,
            `labels` the sentinel-delimited spans + EOS, padded.
        """
        documents, _ = _documents(documents_token_ids)
        lowest_sentinel = self.first_sentinel_id - self.num_sentinels + 1
        _check_range(documents, lowest_sentinel, name="documents_token_ids (below the sentinels)")
        for i, ids in enumerate(documents):
            if ids[-1] == self.eos_id:
                documents[i] = ids = ids[:-1]
            if not ids:
                raise ValueError(f"`documents_token_ids[{i}]` holds only EOS.")
        corrupted = _map_examples(self._corrupt, [(documents, "int32")], seed)
        sources, targets = corrupted["inputs"], corrupted["targets"]
        return seq2seq_examples(
            sources,
            targets,
            decoder_start_token_id=self.decoder_start_token_id,
            end_token_id=self.end_token_id,
            pad_token_id=self.pad_token_id,
            encoder_sequence_length=encoder_sequence_length,
            decoder_sequence_length=decoder_sequence_length,
        )


__all__ = ["BartDenoiser", "T5Denoiser", "DEFAULT_NOISE", "normalize_noise"]
