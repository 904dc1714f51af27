"""BART's denoising pretraining task (Lewis et al. 2020): a `Seq2SeqLM` that reconstructs noised documents."""

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
from kerasnlp_lite.data.seeds import make_seed
from kerasnlp_lite.data.seq2seq import seq2seq_examples
from kerasnlp_lite.models.seq2seq.denoising import (
    NEEDS_MASK,
    check_documents,
    check_documents_range,
    map_examples,
    normalize_noise,
)
from kerasnlp_lite.models.seq2seq.seq2seq_lm import Seq2SeqLM
from kerasnlp_lite.utils.validation import check_id


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
        start_token_id: optional id put before every document (BART's checkpoints:
            `<s>` = 0); None puts none.
        preprocessor, decoder_start_token_id, pad_token_id: as `Seq2SeqLM`.
        end_token_id: as `Seq2SeqLM`; also the id put after every document
            (default the backbone's).

    Example:
    >>> denoiser = BartDenoiser(BartBackbone.from_preset("bart_tiny"), mask_token_id=3, start_token_id=0)
    >>> x, labels = denoiser.denoising_examples(documents, seed=0)   # documents: lists of sentences' ids
    >>> denoiser.compile(optimizer="adam"); denoiser.fit(x, labels)
    """

    def __init__(
        self,
        backbone,
        mask_token_id=None,
        noise=None,
        start_token_id=None,
        preprocessor=None,
        decoder_start_token_id=None,
        end_token_id=None,
        pad_token_id=None,
        **kwargs,
    ):
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
        if mask_token_id is None and any(name in self.noise for name in NEEDS_MASK):
            raise ValueError(
                f"`mask_token_id` is required: the noise {[n for n in self.noise if n in NEEDS_MASK]} inserts masks."
            )
        if mask_token_id is not None:
            mask_token_id = check_id(mask_token_id, "mask_token_id", vocabulary_size)
        self.mask_token_id = mask_token_id
        self.start_token_id = None if start_token_id is None else check_id(start_token_id, "start_token_id", vocabulary_size)
        self._noise_function = None
        # Fail now on bad transform arguments rather than at the first batch.
        self.noise_example([self.end_token_id] * 3, seed=0)

    def task_config(self):
        config = super().task_config()
        config.update(
            {"mask_token_id": self.mask_token_id, "noise": self.noise, "start_token_id": self.start_token_id}
        )
        return config

    def _apply_noise(self, token_ids, sentence_ends, seed):
        specials = {"start_token_id": self.start_token_id, "end_token_id": self.end_token_id}
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
            token_ids: int `[T]`; a leading `start_token_id` and trailing `end_token_id` stay in place.
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
        if self.start_token_id is not None and ids[0] != self.start_token_id:
            ids, ends = [self.start_token_id] + ids, np.concatenate([[False], ends])
        if ids[-1] != self.end_token_id:
            ids, ends = ids + [self.end_token_id], np.concatenate([ends, [False]])
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
        documents, sentence_ends = check_documents(documents_token_ids)
        check_documents_range(documents, self.backbone.vocabulary_size)
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
        sources = map_examples(self._apply_noise, [(targets, "int32"), ([ends for _, ends in framed], bool)], seed)
        return seq2seq_examples(
            sources,
            targets,
            decoder_start_token_id=self.decoder_start_token_id,
            end_token_id=self.end_token_id,
            pad_token_id=self.pad_token_id,
            encoder_sequence_length=encoder_sequence_length,
            decoder_sequence_length=decoder_sequence_length,
        )
