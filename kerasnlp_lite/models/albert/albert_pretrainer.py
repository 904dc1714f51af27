"""ALBERT pretraining: masked-LM plus sentence-order prediction (Lan et al. 2019)."""

import keras

from kerasnlp_lite.models.bert.bert_pretrainer import BertPretrainer


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class AlbertPretrainer(BertPretrainer):
    """Masked-LM plus sentence-order prediction (Lan et al. 2019, section 4.2).

    Same wiring as `BertPretrainer`; the sentence head predicts whether two
    consecutive segments are in order (`sop_logits`, data from
    `kerasnlp_lite.data.sentence_order_pairs`).
    """

    sentence_output = "sop_logits"
