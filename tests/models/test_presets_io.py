"""Preset folders (`save_to_preset` / `from_preset`): round trips of a WordPiece classifier, a SentencePiece
causal LM and the tiny Hugging Face GPT-2, the folder layout, named presets, and the error cases."""

import json
import os
import random
import shutil

import keras
import numpy as np
import pytest

from kerasnlp_lite.checkpoints import from_hf
from kerasnlp_lite.models import (
    Backbone,
    BertBackbone,
    CausalLM,
    CausalLMPreprocessor,
    GPTBackbone,
    Task,
    TextClassifier,
    TextPreprocessor,
    TokenClassifier,
)
from kerasnlp_lite.tokenizers import (
    ByteBPETokenizer,
    SegmentPacker,
    SentencePieceTokenizer,
    Tokenizer,
    WordPieceTokenizer,
)
from kerasnlp_lite.tokenizers.sentence_piece_trainer import train_sentencepiece
from tests.test_case import assert_same_weights, run_preset_test

GPT2 = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "tiny_gpt2")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (
    "the cat dog sat ran on a mat and is big red . , ##s ##ed ##ing"
).split()
TEXTS = ["The cat sat on the mat.", "a big red dog ran", "", "cats and dogs"]
PROMPTS = ["the cat", "a dog ran on"]
TINY = dict(num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16, max_sequence_length=12)


def _files(preset_dir):
    paths = [os.path.join(root, name) for root, _, names in os.walk(preset_dir) for name in names]
    return sorted(os.path.relpath(path, preset_dir) for path in paths)


def _tokenizer_json(preset_dir):
    with open(os.path.join(preset_dir, "tokenizer.json")) as f:
        return json.load(f)


def _copy(preset_dir, target, remove=None):
    shutil.copytree(preset_dir, target)
    if remove:
        os.remove(os.path.join(target, remove))
    return str(target)


# --- fixtures: three tasks, saved once ---------------------------------------
@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(0)
    preprocessor = TextPreprocessor(WordPieceTokenizer(VOCAB), SegmentPacker(12, start_value=2, end_value=3))
    model = TextClassifier(BertBackbone(vocabulary_size=len(VOCAB), **TINY), num_classes=3, preprocessor=preprocessor)
    for weight in model.get_layer("classifier_head").weights:  # random heads give logits near 0
        weight.assign(weight * 30.0)
    return model


@pytest.fixture(scope="module")
def sp_lm():
    rng = random.Random(0)
    words = "the cat dog sat ran on a mat and is big red".split()
    sentences = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 8))) for _ in range(300)]
    tokenizer = SentencePieceTokenizer(train_sentencepiece(sentences, 28, model_type="unigram"))
    keras.utils.set_random_seed(1)
    preprocessor = CausalLMPreprocessor(tokenizer, sequence_length=12, start_token_id=1, end_token_id=2)
    return CausalLM(GPTBackbone(vocabulary_size=tokenizer.vocabulary_size, **TINY), preprocessor=preprocessor)


@pytest.fixture(scope="module")
def gpt2():
    return from_hf(GPT2, task="causal_lm")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, classifier, sp_lm, gpt2):
    """Preset folders of the three tasks."""
    root = tmp_path_factory.mktemp("presets")
    paths = {}
    for name, model in (("classifier", classifier), ("sp_lm", sp_lm), ("gpt2", gpt2)):
        paths[name] = str(root / name)
        model.save_to_preset(paths[name])
    return paths


# --- layout -----------------------------------------------------------------
COMMON = ["config.json", "metadata.json", "model.weights.h5", "preprocessor.json", "task.json", "task.weights.h5",
          "tokenizer.json"]


@pytest.mark.parametrize("name,assets", [
    ("classifier", ["vocabulary.txt"]), ("sp_lm", ["spiece.model"]), ("gpt2", ["merges.txt", "vocab.json"]),
])
def test_preset_layout(saved, name, assets):
    preset_dir = saved[name]
    assert _files(preset_dir) == sorted(COMMON + [f"assets/tokenizer/{asset}" for asset in assets])
    with open(os.path.join(preset_dir, "metadata.json")) as f:
        metadata = json.load(f)
    assert metadata["kerasnlp_lite_version"] and metadata["keras_version"] == keras.version()
    # Each object is stored once: the task refers to the backbone and preprocessor files, the
    # preprocessor to tokenizer.json, the tokenizer to its vocabulary files.
    with open(os.path.join(preset_dir, "task.json")) as f:
        task_config = json.load(f)["config"]
    assert task_config["backbone"] == {"preset_file": "config.json"}
    assert task_config["preprocessor"] == {"preset_file": "preprocessor.json"}
    with open(os.path.join(preset_dir, "preprocessor.json")) as f:
        assert json.load(f)["config"]["tokenizer"] == {"preset_file": "tokenizer.json"}
    config = _tokenizer_json(preset_dir)["config"]
    references = sorted(v["preset_asset"] for v in config.values() if isinstance(v, dict) and "preset_asset" in v)
    assert references == [f"assets/tokenizer/{asset}" for asset in assets]
    assert os.path.getsize(os.path.join(preset_dir, "tokenizer.json")) < 2000


def test_asset_files_are_the_usual_formats(saved, classifier, sp_lm, gpt2):
    with open(os.path.join(saved["classifier"], "assets/tokenizer/vocabulary.txt"), encoding="utf-8") as f:
        assert f.read().splitlines() == VOCAB
    with open(os.path.join(saved["sp_lm"], "assets/tokenizer/spiece.model"), "rb") as f:
        assert f.read() == sp_lm.preprocessor.tokenizer.proto
    with open(os.path.join(saved["gpt2"], "assets/tokenizer/vocab.json"), encoding="utf-8") as f:
        assert json.load(f) == gpt2.preprocessor.tokenizer.vocabulary
    # The Hugging Face pair reads back as a tokenizer of its own.
    assets = os.path.join(saved["gpt2"], "assets/tokenizer")
    bpe = ByteBPETokenizer(os.path.join(assets, "vocab.json"), os.path.join(assets, "merges.txt"))
    assert bpe.merges == gpt2.preprocessor.tokenizer.merges


# --- round trips --------------------------------------------------------------
def test_classifier_round_trip(saved, classifier):
    for cls in (TextClassifier, Task):
        loaded = cls.from_preset(saved["classifier"])
        assert type(loaded) is TextClassifier and loaded.num_classes == 3
        assert isinstance(loaded.preprocessor.tokenizer, WordPieceTokenizer)
        np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0), classifier.predict(TEXTS, verbose=0))
        assert_same_weights(loaded, classifier)


def test_causal_lm_round_trips(saved, sp_lm, gpt2):
    for name, model in (("sp_lm", sp_lm), ("gpt2", gpt2)):
        loaded = CausalLM.from_preset(saved[name])
        assert type(loaded.preprocessor) is type(model.preprocessor)
        assert loaded.generate(PROMPTS, max_length=10) == model.generate(PROMPTS, max_length=10)
        np.testing.assert_array_equal(loaded.predict(PROMPTS, verbose=0), model.predict(PROMPTS, verbose=0))
        # The tied output layer is still the token table.
        assert loaded.lm_head.token_embedding is loaded.backbone.token_embedding


@pytest.mark.parametrize("name,tokenizer_cls", [
    ("classifier", WordPieceTokenizer), ("sp_lm", SentencePieceTokenizer), ("gpt2", ByteBPETokenizer),
])
def test_tokenizer_round_trip(saved, classifier, sp_lm, gpt2, name, tokenizer_cls):
    original = {"classifier": classifier, "sp_lm": sp_lm, "gpt2": gpt2}[name].preprocessor.tokenizer
    tokenizer = Tokenizer.from_preset(saved[name])
    assert type(tokenizer) is tokenizer_cls and type(tokenizer_cls.from_preset(saved[name])) is tokenizer_cls
    assert tokenizer.tokenize(TEXTS).to_list() == original.tokenize(TEXTS).to_list()
    assert tokenizer.get_vocabulary() == original.get_vocabulary()
    assert tokenizer.special_tokens == original.special_tokens


def test_backbone_from_a_task_preset(saved, classifier, gpt2):
    for cls in (Backbone, BertBackbone):
        backbone = cls.from_preset(saved["classifier"])
        assert type(backbone) is BertBackbone
        assert_same_weights(backbone, classifier.backbone)
    assert type(GPTBackbone.from_preset(saved["gpt2"])) is GPTBackbone


def test_new_task_on_a_saved_backbone(tmp_path, saved, classifier):
    # Another task class on a saved task's backbone: a new head, no preprocessor (it was the old task's).
    tagger = TokenClassifier.from_preset(saved["classifier"], num_classes=5)
    assert type(tagger) is TokenClassifier and tagger.num_classes == 5 and tagger.preprocessor is None
    assert_same_weights(tagger.backbone, classifier.backbone)
    # A backbone + tokenizer preset, as KerasHub's `backbone.save_to_preset(d); tokenizer.save_to_preset(d)`.
    preset_dir = str(tmp_path / "backbone")
    classifier.backbone.save_to_preset(preset_dir)
    classifier.preprocessor.tokenizer.save_to_preset(preset_dir)
    assert _files(preset_dir) == sorted(
        ["assets/tokenizer/vocabulary.txt", "config.json", "metadata.json", "model.weights.h5", "tokenizer.json"]
    )
    preprocessor = TextPreprocessor(Tokenizer.from_preset(preset_dir), SegmentPacker(12, start_value=2, end_value=3))
    model = TextClassifier.from_preset(preset_dir, num_classes=2, preprocessor=preprocessor)
    assert_same_weights(model.backbone, classifier.backbone)
    assert model.predict(TEXTS, verbose=0).shape == (len(TEXTS), 2)
    # A saved task can be loaded without its preprocessor.
    assert TextClassifier.from_preset(saved["classifier"], preprocessor=None).preprocessor is None


def test_vocabulary_that_a_file_cannot_hold_stays_in_the_json(tmp_path):
    tokenizer = WordPieceTokenizer(VOCAB + ["two\nlines"])
    tokenizer.save_to_preset(tmp_path)
    assert _files(tmp_path) == ["metadata.json", "tokenizer.json"]
    assert Tokenizer.from_preset(tmp_path).get_vocabulary() == VOCAB + ["two\nlines"]


def test_lora_backbone_round_trip(tmp_path):
    keras.utils.set_random_seed(2)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), **TINY)
    backbone.enable_lora(2)
    for variable in backbone.trainable_weights:  # LoRA B starts at zero: make the update visible
        variable.assign(np.full(variable.shape, 0.1, "float32"))
    backbone.save_to_preset(tmp_path)
    loaded = BertBackbone.from_preset(tmp_path)
    assert loaded.lora_rank == 2
    assert_same_weights(loaded, backbone)


# --- named presets and errors ----------------------------------------------
def test_named_presets_still_build():
    # Shapes only; an unknown preset name is refused, naming the class.
    bert = run_preset_test(BertBackbone, "bert_tiny", init_kwargs={"vocabulary_size": 100})
    gpt = run_preset_test(GPTBackbone, "gpt2_tiny")
    assert (bert.num_layers, bert.hidden_dim, bert.vocabulary_size) == (2, 128, 100)
    assert (gpt.num_layers, gpt.hidden_dim) == (2, 128)


@pytest.mark.parametrize("missing,load", [
    ("config.json", lambda d: Backbone.from_preset(d)),
    ("model.weights.h5", lambda d: BertBackbone.from_preset(d)),
    ("task.weights.h5", lambda d: TextClassifier.from_preset(d)),
    ("preprocessor.json", lambda d: Task.from_preset(d)),
    ("tokenizer.json", lambda d: Tokenizer.from_preset(d)),
    ("tokenizer.json", lambda d: Task.from_preset(d)),
    ("assets/tokenizer/vocabulary.txt", lambda d: WordPieceTokenizer.from_preset(d)),
])
def test_missing_file_is_named(tmp_path, saved, missing, load):
    preset_dir = _copy(saved["classifier"], tmp_path / "preset", remove=missing)
    with pytest.raises(FileNotFoundError, match=missing.replace(".", r"\.")):
        load(preset_dir)


def test_not_a_task_or_not_a_folder(tmp_path, classifier):
    classifier.backbone.save_to_preset(tmp_path)
    with pytest.raises(FileNotFoundError, match="task.json"):
        Task.from_preset(tmp_path)
    with pytest.raises(FileNotFoundError, match="No preset directory"):
        Task.from_preset(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="No preset directory"):
        Tokenizer.from_preset(tmp_path / "absent")


def test_class_mismatch_names_both(saved):
    with pytest.raises(ValueError, match="GPTBackbone.*not a BertBackbone"):
        BertBackbone.from_preset(saved["gpt2"])
    with pytest.raises(ValueError, match="ByteBPETokenizer.*not a WordPieceTokenizer"):
        WordPieceTokenizer.from_preset(saved["gpt2"])


def test_unsafe_or_escaping_presets_are_refused(tmp_path, saved):
    preset_dir = _copy(saved["classifier"], tmp_path / "escape")
    config = _tokenizer_json(preset_dir)
    config["config"]["vocabulary"] = {"preset_asset": "../../outside.txt"}
    with open(os.path.join(preset_dir, "tokenizer.json"), "w") as f:
        json.dump(config, f)
    with pytest.raises(ValueError, match="not inside the preset directory"):
        Tokenizer.from_preset(preset_dir)
    # A config naming something that is not a registered class is never deserialized.
    with open(os.path.join(preset_dir, "config.json"), "w") as f:
        json.dump({"module": "builtins", "class_name": "eval", "config": {}, "registered_name": "builtins>eval"}, f)
    with pytest.raises(ValueError, match="registered"):
        Backbone.from_preset(preset_dir)
