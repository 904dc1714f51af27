"""The census' shared artifacts: tiny tokenizers, models and two TFLite files, each built once on first use.

Everything is small (hidden width 8-16, one or two layers) so that building all of it takes seconds; the two
TFLite conversions (one generation bundle, one string-in encoder file) run in child processes, as
`kerasnlp_lite.export` always does, and only when a case needs them.
"""

import functools
import os
import tempfile

import keras
import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (
    "the cat dog sat ran on a mat and is was big small red . , ! ? ##s ##ed ##ing h ##e ##l ##o w ##r ##d"
).split()
V = len(VOCAB)  # 34: the vocabulary of every encoder below
LENGTH = 12  # packed length of the encoder preprocessors
MAX_LEN = 16  # max_sequence_length of every tiny backbone
GEN_MAX_LENGTH = 24  # max_length of the generation bundle
SMALL = dict(num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16)
TEXTS = ["The cat sat on the mat.", "A big red dog ran!"]


class Shared:
    """Lazily built artifacts; `tmp` is a folder that lives as long as the object."""

    def __init__(self, tmp=None):
        self._tmpdir = None if tmp else tempfile.TemporaryDirectory(prefix="census_")
        self.tmp = tmp or self._tmpdir.name

    def path(self, name):
        return os.path.join(self.tmp, name)

    # --- tokenizers ------------------------------------------------------------------------------------
    @functools.cached_property
    def wordpiece(self):
        from kerasnlp_lite.tokenizers import WordPieceTokenizer

        return WordPieceTokenizer(VOCAB)

    @functools.cached_property
    def sp_proto(self):
        from kerasnlp_lite.data.corpora import stdlib_sentences
        from kerasnlp_lite.tokenizers import train_sentencepiece

        return train_sentencepiece(stdlib_sentences(max_sentences=300), vocabulary_size=120)

    @functools.cached_property
    def sentencepiece(self):
        from kerasnlp_lite.tokenizers import SentencePieceTokenizer

        return SentencePieceTokenizer(self.sp_proto)

    @functools.cached_property
    def byte_bpe(self):
        from kerasnlp_lite.tokenizers import ByteBPETokenizer

        return ByteBPETokenizer(os.path.join(DATA_DIR, "tiny_gpt2", "vocab.json"),
                                os.path.join(DATA_DIR, "tiny_gpt2", "merges.txt"))

    @functools.cached_property
    def text_preprocessor(self):
        from kerasnlp_lite.models import TextPreprocessor
        from kerasnlp_lite.tokenizers import SegmentPacker

        return TextPreprocessor(self.wordpiece, SegmentPacker(LENGTH, start_value=2, end_value=3))

    # --- encoders --------------------------------------------------------------------------------------
    @functools.cached_property
    def bert(self):
        from kerasnlp_lite.models import BertBackbone

        keras.utils.set_random_seed(0)
        return BertBackbone(vocabulary_size=V, max_sequence_length=MAX_LEN, dropout=0.0, **SMALL)

    @functools.cached_property
    def albert(self):
        from kerasnlp_lite.models import AlbertBackbone

        return AlbertBackbone(vocabulary_size=V, embedding_dim=4, max_sequence_length=MAX_LEN, **SMALL)

    @functools.cached_property
    def roberta(self):
        from kerasnlp_lite.models import RobertaBackbone

        return RobertaBackbone(vocabulary_size=V, max_sequence_length=MAX_LEN, dropout=0.0, **SMALL)

    @functools.cached_property
    def classifier(self):
        from kerasnlp_lite.models import TextClassifier

        keras.utils.set_random_seed(1)
        return TextClassifier(self.bert, num_classes=3, dropout=0.0, preprocessor=self.text_preprocessor)

    @functools.cached_property
    def token_classifier(self):
        from kerasnlp_lite.models import TokenClassifier

        return TokenClassifier(self.bert, num_classes=3, dropout=0.0)

    @functools.cached_property
    def embedder(self):
        from kerasnlp_lite.models import TextEmbedder

        return TextEmbedder(self.bert)

    def encoder_inputs(self, batch=2, length=LENGTH, ids=None, segment_ids=None, padding_mask=None):
        rng = np.random.default_rng(0)
        token_ids = rng.integers(5, V, (batch, length)).astype("int32") if ids is None else np.asarray(ids)
        return {
            "token_ids": token_ids,
            "segment_ids": np.zeros(token_ids.shape, "int32") if segment_ids is None else np.asarray(segment_ids),
            "padding_mask": np.ones(token_ids.shape, "int32") if padding_mask is None else np.asarray(padding_mask),
        }

    # --- decoders and seq2seq --------------------------------------------------------------------------
    @functools.cached_property
    def sp_size(self):
        size = self.sentencepiece.vocabulary_size
        return int(size() if callable(size) else size)

    @functools.cached_property
    def gpt(self):
        from kerasnlp_lite.models import GPTBackbone

        keras.utils.set_random_seed(2)
        return GPTBackbone(vocabulary_size=self.sp_size, max_sequence_length=32, dropout=0.0, **SMALL)

    @functools.cached_property
    def causal_lm(self):
        from kerasnlp_lite.models import CausalLM

        return CausalLM(self.gpt, preprocessor=self.sentencepiece)

    @functools.cached_property
    def t5(self):
        from kerasnlp_lite.models import T5Backbone

        keras.utils.set_random_seed(3)
        return T5Backbone(vocabulary_size=V, dropout=0.0, **SMALL)

    @functools.cached_property
    def bart(self):
        from kerasnlp_lite.models import BartBackbone

        keras.utils.set_random_seed(4)
        return BartBackbone(vocabulary_size=V, max_sequence_length=MAX_LEN, dropout=0.0, **SMALL)

    @functools.cached_property
    def t5_lm(self):
        from kerasnlp_lite.models import Seq2SeqLM

        return Seq2SeqLM(self.t5, decoder_start_token_id=0, end_token_id=3, pad_token_id=0)

    @functools.cached_property
    def bart_lm(self):
        from kerasnlp_lite.models import Seq2SeqLM

        return Seq2SeqLM(self.bart, decoder_start_token_id=2, end_token_id=3, pad_token_id=0)

    @functools.cached_property
    def transformer_seq2seq(self):
        from kerasnlp_lite.models import TransformerSeq2Seq

        return TransformerSeq2Seq(vocabulary_size=V, max_sequence_length=MAX_LEN, dropout=0.0, **SMALL)

    def seq2seq_inputs(self, batch=2, source=6, target=5, encoder_ids=None, decoder_ids=None, encoder_mask=None):
        rng = np.random.default_rng(1)
        enc = rng.integers(5, V, (batch, source)).astype("int32") if encoder_ids is None else np.asarray(encoder_ids)
        dec = rng.integers(5, V, (batch, target)).astype("int32") if decoder_ids is None else np.asarray(decoder_ids)
        return {
            "encoder_token_ids": enc,
            "encoder_padding_mask": np.ones(enc.shape, "int32") if encoder_mask is None else np.asarray(encoder_mask),
            "decoder_token_ids": dec,
            "decoder_padding_mask": np.ones(dec.shape, "int32"),
        }

    # --- TFLite files (one conversion each, in a child process) ----------------------------------------
    @functools.cached_property
    def lm_bundle(self):
        from kerasnlp_lite.export import export_causal_lm

        path = self.path("causal_lm.tflite")
        export_causal_lm(self.causal_lm, path, max_length=GEN_MAX_LENGTH, check=False)
        return path

    @functools.cached_property
    def lm_runner(self):
        from kerasnlp_lite.export import LiteRunner

        return LiteRunner(self.lm_bundle)

    @functools.cached_property
    def encoder_file(self):
        from kerasnlp_lite.export import export_tflite

        path = self.path("classifier.tflite")
        export_tflite(self.classifier, path, sample_texts=TEXTS)
        return path

    @functools.cached_property
    def encoder_runner(self):
        from kerasnlp_lite.export import LiteRunner

        return LiteRunner(self.encoder_file)

    def corrupted_copy(self, source, name, keep_bytes=None, flip_at=None):
        """A damaged copy of a file: truncated to `keep_bytes`, or with bytes overwritten from `flip_at`."""
        with open(source, "rb") as f:
            content = bytearray(f.read())
        if keep_bytes is not None:
            content = content[:keep_bytes]
        if flip_at is not None:
            content[flip_at:flip_at + 64] = b"\xff" * 64
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(bytes(content))
        return path
