"""T5's span-corruption pretraining task (Raffel et al. 2020): a `Seq2SeqLM` that writes the dropped spans."""

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite.data.seeds import make_seed
from kerasnlp_lite.data.seq2seq import seq2seq_examples
from kerasnlp_lite.data.span_corruption import span_corruption
from kerasnlp_lite.models.seq2seq.denoising import check_documents, check_documents_range, map_examples
from kerasnlp_lite.models.seq2seq.seq2seq_lm import Seq2SeqLM
from kerasnlp_lite.utils.validation import check_id, check_positive_int, is_number


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
        preprocessor, decoder_start_token_id, pad_token_id: as `Seq2SeqLM`.
        end_token_id: as `Seq2SeqLM`; also the id after each input and target
            (default the backbone's).
    """

    def __init__(
        self,
        backbone,
        noise_density=0.15,
        mean_noise_span_length=3.0,
        num_sentinels=100,
        first_sentinel_id=None,
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
        if not is_number(noise_density) or not 0 < noise_density < 1:
            raise ValueError(f"`noise_density` must be a float in (0, 1), got {noise_density!r}.")
        if not is_number(mean_noise_span_length) or mean_noise_span_length <= 0:
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
            end_token_id=self.end_token_id,
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
        documents, _ = check_documents(documents_token_ids)
        lowest_sentinel = self.first_sentinel_id - self.num_sentinels + 1
        check_documents_range(documents, lowest_sentinel, name="documents_token_ids (below the sentinels)")
        for i, ids in enumerate(documents):
            if ids[-1] == self.end_token_id:
                documents[i] = ids = ids[:-1]
            if not ids:
                raise ValueError(f"`documents_token_ids[{i}]` holds only EOS.")
        corrupted = map_examples(self._corrupt, [(documents, "int32")], seed)
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
