"""Preset folders, as KerasHub lays them out: a task, backbone or tokenizer saved as plain files.

`save_to_preset(obj, preset_dir)` writes (KerasHub's file names,
`keras_hub/src/utils/preset_utils.py`):

    config.json            the backbone, Keras-serialized
    model.weights.h5       the backbone's weights
    task.json              the task's own arguments (a task only)
    task.weights.h5        all the task's weights, backbone included (a task only)
    preprocessor.json      the task's preprocessor (a task with one only)
    tokenizer.json         the tokenizer (the preprocessor's, or one saved alone)
    assets/tokenizer/      the vocabulary as the usual files: vocabulary.txt
                           (WordPiece), spiece.model (SentencePiece), vocab.json +
                           merges.txt (byte-level BPE)
    metadata.json          library, Keras and TensorFlow versions, what was saved, when

Each object is written once. Where a config holds another object that has
its own file, the JSON holds a reference `{"preset_file": "config.json"}`
instead (task.json -> config.json and preprocessor.json, preprocessor.json ->
tokenizer.json), and tokenizer.json refers to its vocabulary files with
`{"preset_asset": "assets/tokenizer/vocabulary.txt"}` (the tokenizers take a
file path for these arguments), so a 50k-token vocabulary is stored once, as
a file other tools read. A vocabulary that would not read back identically
from its file (a WordPiece token holding a line break) stays in the JSON.

Loading is safe: JSON through `keras.saving.deserialize_keras_object(...,
safe_mode=True)` after `kerasnlp_lite.saving.register_all()`, weights only
from `.weights.h5` files, references only to files inside the folder.
"""

import datetime
import json
import os

import keras
import tensorflow as tf

from kerasnlp_lite import __version__
from kerasnlp_lite.models.backbone import Backbone
from kerasnlp_lite.models.task import Task
from kerasnlp_lite.saving import register_all
from kerasnlp_lite.tokenizers import ByteBPETokenizer, SentencePieceTokenizer, WordPieceTokenizer
from kerasnlp_lite.tokenizers._byte_level import read_merges, read_vocabulary
from kerasnlp_lite.tokenizers.sentence_piece_tokenizer import _read_proto
from kerasnlp_lite.tokenizers.tokenizer import Tokenizer
from kerasnlp_lite.tokenizers.word_piece_tokenizer import load_vocabulary

CONFIG_FILE = "config.json"
MODEL_WEIGHTS_FILE = "model.weights.h5"
TASK_CONFIG_FILE = "task.json"
TASK_WEIGHTS_FILE = "task.weights.h5"
PREPROCESSOR_CONFIG_FILE = "preprocessor.json"
TOKENIZER_CONFIG_FILE = "tokenizer.json"
TOKENIZER_ASSET_DIR = "assets/tokenizer"
METADATA_FILE = "metadata.json"

_FILE_REF, _ASSET_REF = "preset_file", "preset_asset"


# --- saving -------------------------------------------------------------------
def save_to_preset(obj, preset_dir):
    """Writes a task, backbone or tokenizer to the folder `preset_dir` (created if needed).

    Files of the same names already there are replaced, others are left, so
    `backbone.save_to_preset(d)` then `tokenizer.save_to_preset(d)` make one
    preset (KerasHub's workflow).
    """
    if not isinstance(obj, (Task, Backbone, Tokenizer)):
        raise TypeError(f"save_to_preset takes a Task, Backbone or Tokenizer, got {type(obj).__name__}.")
    preset_dir = os.fspath(preset_dir)
    os.makedirs(preset_dir, exist_ok=True)
    if isinstance(obj, Tokenizer):
        _save_tokenizer(obj, preset_dir)
    else:
        backbone = obj.backbone if isinstance(obj, Task) else obj
        _write_json(preset_dir, CONFIG_FILE, _serialize(backbone))
        backbone.save_weights(os.path.join(preset_dir, MODEL_WEIGHTS_FILE))
    if isinstance(obj, Task):
        config = _replace(_serialize(obj), _serialize(obj.backbone), {_FILE_REF: CONFIG_FILE})
        preprocessor = obj.preprocessor
        if preprocessor is not None:
            config = _replace(config, _serialize(preprocessor), {_FILE_REF: PREPROCESSOR_CONFIG_FILE})
            preprocessor_config = _serialize(preprocessor)
            tokenizer = getattr(preprocessor, "tokenizer", None)
            if isinstance(tokenizer, Tokenizer):
                _save_tokenizer(tokenizer, preset_dir)
                preprocessor_config = _replace(
                    preprocessor_config, _serialize(tokenizer), {_FILE_REF: TOKENIZER_CONFIG_FILE}
                )
            _write_json(preset_dir, PREPROCESSOR_CONFIG_FILE, preprocessor_config)
        _write_json(preset_dir, TASK_CONFIG_FILE, config)
        obj.save_weights(os.path.join(preset_dir, TASK_WEIGHTS_FILE))
    _write_json(preset_dir, METADATA_FILE, _metadata(obj))


def _serialize(obj):
    # As KerasHub: no compile or build state in a preset (a loaded task is
    # compiled by its user; functional models are built by their constructor).
    return _without_keys(keras.saving.serialize_keras_object(obj), ("compile_config", "build_config"))


def _without_keys(tree, keys):
    if isinstance(tree, dict):
        return {key: _without_keys(value, keys) for key, value in tree.items() if key not in keys}
    if isinstance(tree, (list, tuple)):
        return [_without_keys(value, keys) for value in tree]
    return tree


def _replace(tree, target, reference):
    """`tree` with every sub-tree equal to `target` replaced by `reference`."""
    if tree == target:
        return reference
    if isinstance(tree, dict):
        return {key: _replace(value, target, reference) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_replace(value, target, reference) for value in tree]
    return tree


def _tokenizer_assets(tokenizer):
    """`[(config key, file name, bytes of the value, reader)]`: the tokenizer's arguments that are files.

    The reader is the one the tokenizer's constructor uses on a path, so a
    file is kept only if it reads back to the value the tokenizer holds.
    """
    def lines(items, header=""):
        return (header + "".join(item + "\n" for item in items)).encode("utf-8")

    if isinstance(tokenizer, WordPieceTokenizer):
        return [("vocabulary", "vocabulary.txt", lines(tokenizer.vocabulary), load_vocabulary)]
    if isinstance(tokenizer, SentencePieceTokenizer):
        return [("proto", "spiece.model", bytes(tokenizer.proto), _read_proto)]
    if isinstance(tokenizer, ByteBPETokenizer):
        vocab = json.dumps(tokenizer.vocabulary, ensure_ascii=False).encode("utf-8")
        return [
            ("vocabulary", "vocab.json", vocab, read_vocabulary),
            ("merges", "merges.txt", lines(tokenizer.merges, "#version: 0.2\n"), read_merges),  # Hugging Face's header
        ]
    return []


def _save_tokenizer(tokenizer, preset_dir):
    config = _serialize(tokenizer)
    asset_dir = os.path.join(preset_dir, TOKENIZER_ASSET_DIR)
    for key, name, data, read in _tokenizer_assets(tokenizer):
        os.makedirs(asset_dir, exist_ok=True)
        path = os.path.join(asset_dir, name)
        with open(path, "wb") as f:
            f.write(data)
        if read(path) == getattr(tokenizer, key):
            config["config"][key] = {_ASSET_REF: f"{TOKENIZER_ASSET_DIR}/{name}"}
        else:  # e.g. a WordPiece token with a line break in it: kept in the JSON
            os.remove(path)
    _write_json(preset_dir, TOKENIZER_CONFIG_FILE, config)


def _metadata(obj):
    metadata = {
        "kerasnlp_lite_version": __version__,
        "keras_version": keras.version(),
        "tensorflow_version": tf.__version__,
        "class_name": type(obj).__name__,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    }
    if isinstance(obj, keras.Model):
        metadata["parameter_count"] = obj.count_params()
    return metadata


def _write_json(preset_dir, name, data):
    with open(os.path.join(preset_dir, name), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)


# --- loading ------------------------------------------------------------------
def load_preset(preset_dir, cls=None, **kwargs):
    """Loads what `preset_dir` holds: a task if it has task.json, else its backbone, else its tokenizer.

    With `cls` (a Task, Backbone or Tokenizer class), loads that kind; see
    `load_task`, `load_backbone`, `load_tokenizer`.
    """
    if cls is None:
        _check_dir(preset_dir)
        names = set(os.listdir(preset_dir))
        cls = Task if TASK_CONFIG_FILE in names else Backbone if CONFIG_FILE in names else Tokenizer
    for base, load in ((Task, load_task), (Backbone, load_backbone), (Tokenizer, load_tokenizer)):
        if isinstance(cls, type) and issubclass(cls, base):
            return load(preset_dir, cls, **kwargs)
    raise TypeError(f"`cls` must be a Task, Backbone or Tokenizer class, got {cls!r}.")


def load_backbone(preset_dir, cls, **kwargs):
    """The backbone of config.json with the weights of model.weights.h5; `kwargs` override its config."""
    config = _read_config(preset_dir, CONFIG_FILE, cls)
    weights = _preset_path(preset_dir, MODEL_WEIGHTS_FILE)
    backbone = _deserialize(config, kwargs)
    backbone.load_weights(weights)
    return backbone


def load_tokenizer(preset_dir, cls, **kwargs):
    """The tokenizer of tokenizer.json, its vocabulary read from assets/tokenizer/; `kwargs` override its config."""
    return _deserialize(_read_config(preset_dir, TOKENIZER_CONFIG_FILE, cls), kwargs)


def load_task(preset_dir, cls, **kwargs):
    """The task saved in `preset_dir`, or a new `cls` around the preset's backbone.

    If task.json holds a `cls` (or a subclass), the task is rebuilt from it,
    preprocessor included, and gets all its weights from task.weights.h5;
    `kwargs` override its arguments (`preprocessor=...` replaces the saved one;
    one that changes weight shapes, like another `num_classes`, cannot load
    the saved weights: build that task on `Backbone.from_preset(preset_dir)`).

    Otherwise (a backbone-only preset, or a task of another class, e.g. a
    classifier on a saved pretrainer's backbone) `cls` must be a concrete
    task: `cls(backbone, **kwargs)` with the backbone of config.json and
    model.weights.h5. The saved preprocessor belongs to the saved task, so it
    is not reused: pass `preprocessor=` (e.g. built on `Tokenizer.from_preset(preset_dir)`).
    """
    _check_dir(preset_dir)
    preset_dir = os.fspath(preset_dir)
    task_path = os.path.join(preset_dir, TASK_CONFIG_FILE)
    saved = None
    if os.path.isfile(task_path):
        config = _read_json(preset_dir, TASK_CONFIG_FILE)
        saved = _registered_class(config, TASK_CONFIG_FILE)
        if issubclass(saved, cls):
            weights = _preset_path(preset_dir, TASK_WEIGHTS_FILE)
            replace_preprocessor = "preprocessor" in kwargs
            preprocessor = kwargs.pop("preprocessor", None)
            if replace_preprocessor:
                kwargs["preprocessor"] = None
            task = _deserialize(_resolve(config, preset_dir), kwargs)
            task.load_weights(weights)
            if replace_preprocessor:
                task.preprocessor = preprocessor
            return task
    if cls is Task:
        if saved is not None:
            raise ValueError(f"{preset_dir!r} holds a {saved.__name__} (task.json), which is not a {cls.__name__}.")
        raise FileNotFoundError(
            f"{TASK_CONFIG_FILE!r} is missing from the preset directory {preset_dir!r}: it holds no task. Load the "
            "backbone with `Backbone.from_preset`, or build a task on it with a task class, e.g. "
            "`TextClassifier.from_preset(preset_dir, num_classes=2)`."
        )
    if "backbone" in kwargs:
        raise ValueError("`backbone` comes from the preset; to use another one build the task directly.")
    return cls(backbone=load_backbone(preset_dir, Backbone), **kwargs)


def _check_dir(preset_dir):
    if not os.path.isdir(preset_dir):
        raise FileNotFoundError(f"No preset directory at {os.fspath(preset_dir)!r}.")


def _preset_path(preset_dir, name):
    """The path of `name` inside `preset_dir`: FileNotFoundError naming it if absent, ValueError if outside."""
    _check_dir(preset_dir)
    root = os.path.realpath(preset_dir)
    path = os.path.realpath(os.path.join(root, name)) if isinstance(name, str) else None
    if path is None or os.path.commonpath([root, path]) != root:
        raise ValueError(f"Preset file {name!r} is not inside the preset directory {os.fspath(preset_dir)!r}.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name!r} is missing from the preset directory {os.fspath(preset_dir)!r}.")
    return path


def _read_json(preset_dir, name):
    with open(_preset_path(preset_dir, name), encoding="utf-8") as f:
        return json.load(f)


def _read_config(preset_dir, name, cls):
    """The serialized object in `name`, references resolved; ValueError if it is not a `cls`."""
    config = _read_json(preset_dir, name)
    saved = _registered_class(config, name)
    if not issubclass(saved, cls):
        raise ValueError(
            f"{os.fspath(preset_dir)!r} holds a {saved.__name__} ({name}), which is not a {cls.__name__}; "
            f"load it with {saved.__name__}.from_preset."
        )
    return _resolve(config, preset_dir)


def _registered_class(config, name):
    register_all()
    registered = config.get("registered_name") if isinstance(config, dict) else None
    found = keras.saving.get_registered_object(registered) if registered else None
    if not isinstance(found, type):
        raise ValueError(f"{name} does not hold a registered Keras class (registered_name={registered!r}).")
    return found


def _resolve(tree, preset_dir, seen=()):
    """Replaces `{"preset_file": name}` by that file's (resolved) JSON and `{"preset_asset": name}` by its path."""
    if isinstance(tree, dict):
        if set(tree) == {_FILE_REF}:
            name = tree[_FILE_REF]
            if name in seen:
                raise ValueError(f"Preset file {name!r} refers to itself (through {list(seen)}).")
            return _resolve(_read_json(preset_dir, name), preset_dir, seen + (name,))
        if set(tree) == {_ASSET_REF}:
            return _preset_path(preset_dir, tree[_ASSET_REF])
        return {key: _resolve(value, preset_dir, seen) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_resolve(value, preset_dir, seen) for value in tree]
    return tree


def _deserialize(config, overrides):
    register_all()
    config = dict(config, config={**config["config"], **overrides})
    return keras.saving.deserialize_keras_object(config, safe_mode=True)
