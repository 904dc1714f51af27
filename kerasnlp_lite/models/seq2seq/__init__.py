"""What every encoder-decoder family shares: the backbone base, `Seq2SeqLM`, its preprocessor,
the denoising helpers. The families live in `models/transformer`, `models/bart`, `models/t5`."""

from kerasnlp_lite.models.seq2seq.seq2seq_backbone import Seq2SeqBackbone
from kerasnlp_lite.models.seq2seq.seq2seq_lm import Seq2SeqLM
from kerasnlp_lite.models.seq2seq.seq2seq_preprocessor import Seq2SeqPreprocessor
