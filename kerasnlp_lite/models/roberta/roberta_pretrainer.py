"""RoBERTa pretraining: masked-LM only, dynamic masking (Liu et al. 2019)."""

import keras

from kerasnlp_lite.models.bert.bert_pretrainer import BertPretrainer


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class RobertaPretrainer(BertPretrainer):
    """Masked-LM only (Liu et al. 2019: NSP removed; masks drawn anew each epoch
    by the data pipeline, `kerasnlp_lite.data` dynamic masking)."""

    def __init__(self, backbone, next_sentence=False, preprocessor=None, **kwargs):
        if next_sentence:
            raise ValueError("RoBERTa has no next-sentence objective; use BertPretrainer for NSP.")
        super().__init__(backbone, next_sentence=False, preprocessor=preprocessor, **kwargs)
