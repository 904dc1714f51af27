"""String-in TFLite files for the byte-level BPE families (issue #15): GPT-2, RoBERTa and BART tokenize and
detokenize on device through the byte-level BPE graph (builtins + tf-text ops, never Flex), framed as Keras frames
them; the text (or the outputs) equals Keras'.

Four conversions in all, one per model (module-scoped fixtures), at tiny lengths.
"""

import json

import numpy as np
import pytest

from kerasnlp_lite.checkpoints import from_hf
from kerasnlp_lite.export import LiteRunner, export_causal_lm, export_seq2seq_lm, export_tflite
from kerasnlp_lite.export.tflite import is_tftext_op
from kerasnlp_lite.tokenizers import ByteBPETokenizer

pytestmark = [pytest.mark.slow, pytest.mark.tflite]

GPT2, ROBERTA, BART = "tests/data/tiny_gpt2", "tests/data/tiny_roberta", "tests/data/tiny_bart"
# Tokenize reads bytes with ByteSplitWithOffsets; detokenize (generation bundles only) joins with NgramsStringJoin.
TOKENIZE_OPS = ["TFText>ByteSplitWithOffsets"]
BUNDLE_OPS = ["TFText>ByteSplitWithOffsets", "TFText>NgramsStringJoin"]
PROMPTS = ["The model", "It's 2024 and", "We split the pair", "token again", "héllo wörld 12", "a"]
CAUSAL_LENGTH = 16
SEQ2SEQ_LENGTH, SOURCE_LENGTH = 12, 24
TEXTS = ["The model merges each pair.", "It's 2024, and they split it again!", "ünïcode — 中文 😀", "a"]
# About 100 tokens: longer than the packer's sequence_length (64), so the packer truncates.
LONG_TEXT = " ".join(["the token model of the pair"] * 16)


def _generate_cli(path, prompts, capsys, max_length=None):
    from kerasnlp_lite.cli import main

    args = ["generate", *prompts, "--model", str(path), "--json"]
    args += [] if max_length is None else ["--max-length", str(max_length)]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return [json.loads(line)["text"] for line in lines]


def _check_ops(report, custom_ops):
    assert not [op for op in report.ops if op.startswith("Flex")], report.ops
    assert all(is_tftext_op(op) for op in report.custom_ops), report.custom_ops
    assert sorted(report.custom_ops) == custom_ops


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    lm = from_hf(GPT2, task="causal_lm")
    report = export_causal_lm(lm, tmp_path_factory.mktemp("gpt2") / "gpt2.tflite", max_length=CAUSAL_LENGTH,
                              check=False)
    return lm, report


def _roberta(task, **kwargs):
    """The tiny RoBERTa task with `<unk>` for bytes its 100-token vocabulary lacks (real RoBERTa's vocabulary has
    all 256; without an unknown token the export refuses the tokenizer, see the last test)."""
    model = from_hf(ROBERTA, task=task, **kwargs)
    config = dict(model.preprocessor.tokenizer.get_config(), unknown_token="<unk>")
    model.preprocessor.tokenizer = ByteBPETokenizer.from_config(config)
    return model


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    model = _roberta("classifier", num_classes=3)
    return model, export_tflite(model, tmp_path_factory.mktemp("cls") / "classifier.tflite")


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    model = _roberta("embedder")
    return model, export_tflite(model, tmp_path_factory.mktemp("emb") / "embedder.tflite", signatures=["embed"])


@pytest.fixture(scope="module")
def bart(tmp_path_factory):
    lm = from_hf(BART, task="seq2seq_lm")
    report = export_seq2seq_lm(lm, tmp_path_factory.mktemp("bart") / "bart.tflite", max_length=SEQ2SEQ_LENGTH,
                               max_source_length=SOURCE_LENGTH)
    return lm, report


def test_gpt2_text_in_text_out_equals_keras(gpt2, capsys):
    lm, report = gpt2
    _check_ops(report, BUNDLE_OPS)
    assert {"tokenize", "detokenize", "generate"} <= set(report.signatures)
    runner = LiteRunner(report.path)
    tokenizer = lm.preprocessor.tokenizer
    for text in PROMPTS + TEXTS:
        ids = runner.tokenize(text)
        assert ids.tolist() == tokenizer.tokenize(text).numpy().tolist(), text
        assert runner.detokenize(ids) == text
    keras_texts = lm.generate(PROMPTS, max_length=CAUSAL_LENGTH)
    # The model's end token (0) is the stop token of both.
    device_texts = [runner.generate(p, CAUSAL_LENGTH - len(runner.tokenize(p)), stop_token_ids=[0]) for p in PROMPTS]
    assert device_texts == keras_texts
    assert _generate_cli(report.path, PROMPTS, capsys) == keras_texts
    # Not only the prompt echoed back: the continuations hold new text.
    assert all(len(d) > len(p) for d, p in zip(device_texts, PROMPTS))


def test_roberta_classifier_string_in_equals_keras(classifier):
    model, report = classifier
    _check_ops(report, TOKENIZE_OPS)
    assert sorted(report.signatures) == ["classify", "serving_default"]
    runner = LiteRunner(report.path)
    np.testing.assert_allclose(runner.classify(TEXTS), model.predict(TEXTS, verbose=0), atol=1e-5, rtol=0)
    # Truncation is reported, as by the preprocessor: the number of dropped tokens.
    keras_truncated = int(model.preprocessor.features(np.array([LONG_TEXT]))["num_truncated"][0])
    assert keras_truncated > 0
    out = runner.run("classify", text=[LONG_TEXT])
    assert int(out["num_truncated"][0]) == keras_truncated
    with pytest.warns(UserWarning, match="truncated"):
        keras_logits = model.predict([LONG_TEXT], verbose=0)
    np.testing.assert_allclose(out["logits"], keras_logits, atol=1e-5, rtol=0)


def test_roberta_embedder_string_in_equals_keras(embedder):
    model, report = embedder
    _check_ops(report, TOKENIZE_OPS)
    assert sorted(report.signatures) == ["embed"]
    runner = LiteRunner(report.path)
    # Several texts in one call too: the BPE graph takes any batch size.
    out = runner.run("embed", text=np.array([t.encode() for t in TEXTS]))
    keras_embeddings = model.predict(TEXTS, verbose=0)
    np.testing.assert_allclose(out["embeddings"], keras_embeddings, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(out["num_truncated"], 0)
    np.testing.assert_allclose(runner.embed(TEXTS), keras_embeddings, atol=1e-5, rtol=0)


def test_bart_text_in_text_out_equals_keras(bart, capsys):
    lm, report = bart
    _check_ops(report, BUNDLE_OPS)
    runner = LiteRunner(report.path)
    keras_texts = lm.generate(PROMPTS, max_length=SEQ2SEQ_LENGTH)
    assert _generate_cli(report.path, PROMPTS, capsys, max_length=SEQ2SEQ_LENGTH) == keras_texts
    # The file's tokenizer gives the preprocessor's source ids inside its framing: <s> ids </s>.
    preprocessor = lm.preprocessor
    for text in PROMPTS:
        source = preprocessor.encoder_inputs([text])
        row = source["encoder_token_ids"][0][source["encoder_padding_mask"][0].astype(bool)].tolist()
        framed = [preprocessor.encoder_start_token_id, *runner.tokenize(text).tolist(), preprocessor.end_token_id]
        assert framed == row, text


def test_tokenizers_that_cannot_go_to_tflite_fail_before_conversion(gpt2, tmp_path):
    lm, _ = gpt2
    config = dict(lm.preprocessor.tokenizer.get_config(), special_tokens={"eos": "<|endoftext|>"},
                  special_tokens_in_strings=True)
    with pytest.raises(ValueError, match="special_tokens_in_strings"):
        export_causal_lm(lm, tmp_path / "never.tflite", max_length=8, tokenizer=ByteBPETokenizer.from_config(config))
    with pytest.raises(ValueError, match="dict cannot go to TFLite"):
        export_causal_lm(lm, tmp_path / "never.tflite", max_length=8, tokenizer={"not": "a tokenizer"})
    # The tiny RoBERTa vocabulary as loaded: bytes with no token and no unknown token to stand for them.
    with pytest.raises(ValueError, match=r"bytes \[0, 1, 2, 3, 4\] have no token in the vocabulary"):
        export_tflite(from_hf(ROBERTA, task="embedder"), tmp_path / "never.tflite")
    assert not (tmp_path / "never.tflite").exists()
