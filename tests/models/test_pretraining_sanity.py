"""Training sanity: BERT masked-LM pretraining on the built-in corpus learns.

A small SentencePiece vocabulary is trained on the training documents, NSP
pairs come from `next_sentence_pairs`, masks from `mask_language_model` with
BERT's standard rates (15% selected, 80/10/10). The model is the `bert_tiny`
preset (vocabulary and positions resized, dropout off) with the standard
initialisation, trained by `BertPretrainer` (MLM + NSP) for 200 steps.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.data import mask_language_model, next_sentence_pairs
from kerasnlp_lite.data.corpora import stdlib_corpus
from kerasnlp_lite.models import BertBackbone, BertPretrainer
from kerasnlp_lite.tokenizers import SegmentPacker, SentencePieceTokenizer, train_sentencepiece

# A 150-piece vocabulary (the corpus's ~100 characters plus ~45 pieces) makes
# a masked piece predictable from its neighbours, which a 2-layer model learns
# within 200 steps. With 300-2000 pieces (or 64-token pairs) the same 200 steps
# only get to about the unigram floor, a 16-22% fall.
VOCABULARY, SEQUENCE_LENGTH, BATCH, STEPS, LEARNING_RATE, SEED = 150, 32, 64, 200, 1e-3, 0
MAX_SELECTIONS = round(0.15 * SEQUENCE_LENGTH) + 1  # never binds: the rate stays 15%
HELD_OUT_DOCUMENTS, HELD_OUT_PAIRS = 300, 512


@pytest.mark.slow
def test_bert_pretrainer_mlm_loss_falls_on_builtin_corpus():
    keras.utils.set_random_seed(SEED)  # initialisation
    documents = stdlib_corpus()
    # Held-out documents are never trained on (nor is the vocabulary fitted
    # on them); held-out pairs with a sentence that also occurs in a training
    # document (repeated docstrings) are dropped.
    order = np.random.default_rng(0).permutation(len(documents))
    test_documents = [documents[i] for i in sorted(order[:HELD_OUT_DOCUMENTS])]
    train_documents = [documents[i] for i in sorted(order[HELD_OUT_DOCUMENTS:])]
    train_sentences = [s for doc in train_documents for s in doc]
    seen = set(train_sentences)
    proto = train_sentencepiece(
        train_sentences, vocabulary_size=VOCABULARY, user_defined_symbols=("[CLS]", "[SEP]", "[MASK]"),
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
    )
    tokenizer = SentencePieceTokenizer(proto)
    vocabulary_size = tokenizer.vocabulary_size
    cls_id, sep_id, mask_id = (tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[MASK]"))
    train_pairs = next_sentence_pairs(train_documents, seed=0)
    test_pairs = [
        p for p in next_sentence_pairs(test_documents, seed=1) if p["first"] not in seen and p["second"] not in seen
    ][:HELD_OUT_PAIRS]
    assert len(test_pairs) >= 256
    packer = SegmentPacker(SEQUENCE_LENGTH, start_value=cls_id, end_value=sep_id, pad_value=0)

    def examples(pairs, seeds):
        """Packs the pairs and masks them once per seed (BERT's dupe_factor)."""
        packed = packer(
            (tokenizer.tokenize(tf.constant([p["first"] for p in pairs])),
             tokenizer.tokenize(tf.constant([p["second"] for p in pairs])))
        )
        labels = np.array([p["label"] for p in pairs])
        x, y, w = [], [], []
        for seed in seeds:
            masked = mask_language_model(
                packed["token_ids"], vocabulary_size=vocabulary_size, mask_token_id=mask_id, seed=seed,
                unselectable_ids=(0, cls_id, sep_id), padding_mask=packed["padding_mask"],
                max_selections=MAX_SELECTIONS,
            )
            x.append({
                "token_ids": masked["token_ids"].numpy(),
                "segment_ids": packed["segment_ids"].numpy(),
                "padding_mask": packed["padding_mask"].numpy(),
                "mask_positions": masked["mask_positions"].numpy(),
            })
            y.append({"mlm_logits": masked["mask_ids"].numpy(), "nsp_logits": labels})
            w.append({"mlm_logits": masked["mask_weights"].numpy(), "nsp_logits": np.ones(len(labels), "float32")})
        return [{k: np.concatenate([part[k] for part in parts]) for k in parts[0]} for parts in (x, y, w)], packed

    (x_train, y_train, w_train), train_packed = examples(train_pairs, range(STEPS * BATCH // len(train_pairs) + 1))
    keep = np.random.default_rng(SEED).permutation(len(x_train["token_ids"]))[: STEPS * BATCH]
    x_train, y_train, w_train = ({k: v[keep] for k, v in tree.items()} for tree in (x_train, y_train, w_train))
    (x_test, y_test, w_test), _ = examples(test_pairs, [100])
    targets, target_weights = y_test["mlm_logits"], w_test["mlm_logits"]

    # Unigram floor: the held-out loss of predicting the training token frequencies.
    real = train_packed["padding_mask"].numpy().astype(bool)
    train_tokens = train_packed["token_ids"].numpy()[real]
    train_tokens = train_tokens[(train_tokens != cls_id) & (train_tokens != sep_id)]
    frequencies = np.bincount(train_tokens, minlength=vocabulary_size) + 0.5
    frequencies = frequencies / frequencies.sum()
    unigram_floor = -np.log(frequencies[targets[target_weights > 0]]).mean()

    backbone = BertBackbone.from_preset(
        "bert_tiny", vocabulary_size=vocabulary_size, max_sequence_length=SEQUENCE_LENGTH, dropout=0.0
    )
    model = BertPretrainer(backbone)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))

    def held_out_mlm_loss():
        """Mean cross-entropy over the held-out masked positions."""
        logits = model.predict(x_test, batch_size=256, verbose=0)["mlm_logits"]
        log_probs = keras.ops.convert_to_numpy(keras.ops.log_softmax(logits, axis=-1))
        losses = -np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        return float((losses * target_weights).sum() / target_weights.sum())

    before = held_out_mlm_loss()
    # The standard initialisation predicts nearly uniformly (measured 4.96-5.09
    # against ln 150 = 5.01): nothing inflates the starting loss.
    assert before <= np.log(vocabulary_size) + 0.25, (before, np.log(vocabulary_size))
    history = model.fit(
        x_train, y_train, sample_weight=w_train, batch_size=BATCH, epochs=1, shuffle=False, verbose=0
    )
    assert int(model.optimizer.iterations.numpy()) == STEPS
    assert np.isfinite(history.history["loss"][0])
    after = held_out_mlm_loss()
    # Measured (2 shared CPU cores, 45-73 s for the whole test), before -> after
    # with SEED 0 / 1 / 2: 5.04 -> 3.20 / 5.09 -> 3.21 / 5.02 -> 3.21 (a fall
    # of 36.5 / 37.0 / 36.0%); unigram floor 3.79 (a 25% fall). Dropout 0.1
    # gave 35.6% (seed 0); 1000 pieces 21.5% (floor 17%); 2000 pieces with
    # 64-token pairs, batch 32 (the earlier setup) 19-21%.
    assert after <= 0.70 * before, (before, after, unigram_floor)
    # Below the unigram floor: the model uses the context, not just frequencies.
    assert after < unigram_floor - 0.2, (before, after, unigram_floor)
