"""The encoder exports' signatures (`serving_default`, `classify`, `embed`) in a `keras.export.ExportArchive`.

Signatures (the on-device contract, export/CONTRACT.md; read by `LiteRunner`):

- `serving_default`: the model's own inputs, named as the Keras model's
  (`token_ids`, `segment_ids`, `padding_mask`, ..., int32). In TFLite every
  input is `[1, max_sequence_length]` (one example per call); in a SavedModel
  the batch and length are free.
- `classify` (a `TextClassifier` with a preprocessor): input `text` tf.string
  `[B]`, output `logits` float32 `[B, num_classes]`.
- `embed` (a `TextEmbedder` with a preprocessor): input `text`, output
  `embeddings` float32 `[B, hidden_dim]`.
  Both string signatures also output `num_truncated` int32 `[B]` (tokens the
  packer dropped; truncation is never silent). The tokenizer and packer run
  inside the graph: in TFLite as builtins plus tf-text custom ops (register
  `tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`): WordPiece and
  SentencePiece through tf-text's fast kernels, byte-level BPE (GPT-2,
  RoBERTa, BART) through its own graph (`text_graph.TokenizerGraph`). TFLite
  string signatures take any number of texts per call by default (tf-text's
  fast tokenizers run at batch > 1 here: tested with 1 and 3), as bytes;
  `text_batch_size=n` fixes it.

`export_saved_model` writes the archive as it is; `export_tflite` (api.py)
converts it.
"""

import keras
import tensorflow as tf

from kerasnlp_lite.export.format import ID_SIGNATURE, SINGLE_OUTPUT_NAMES, TEXT_SIGNATURES


def input_names(model):
    """The model's input names, in the order of `model.inputs`."""
    if isinstance(model.input, dict):
        return list(model.input)
    return [tensor.name for tensor in model.inputs]


def input_specs(model, batch_size, sequence_length):
    """name -> TensorSpec: the batch axis `batch_size`, other unknown axes `sequence_length`."""
    specs = {}
    for name, tensor in zip(input_names(model), model.inputs):
        shape = list(tensor.shape)
        shape[0] = shape[0] if shape[0] is not None and batch_size is not None else batch_size
        shape[1:] = [sequence_length if dim is None else dim for dim in shape[1:]]
        specs[name] = tf.TensorSpec(shape, tensor.dtype, name=name)
    return specs


def call_model(model, inputs):
    """The model called (not training) on a dict of inputs keyed by input name."""
    if isinstance(model.input, dict):
        return model(inputs, training=False)
    names = input_names(model)
    args = [inputs[name] for name in names]
    return model(args if len(args) > 1 else args[0], training=False)


def named_outputs(model, outputs):
    """The model's outputs as a dict: its own keys, `output_i`, or the task's output name."""
    if isinstance(outputs, dict):
        return dict(outputs)
    if isinstance(outputs, (list, tuple)):
        return {f"output_{i}": out for i, out in enumerate(outputs)}
    return {SINGLE_OUTPUT_NAMES.get(type(model).__name__, "output_0"): outputs}


def text_signature(model):
    """`(signature name, output name)` of a model's string-input signature, or None."""
    entry = TEXT_SIGNATURES.get(type(model).__name__)
    if entry is None or getattr(model, "preprocessor", None) is None:
        return None
    return entry


def available_signatures(model):
    """The signature names `export_tflite` / `export_saved_model` can write for this model."""
    check_model(model)  # the same TypeError `export_tflite` gives, not a list it would refuse
    text = text_signature(model)
    return [ID_SIGNATURE] + ([text[0]] if text else [])


def check_signatures(model, signatures):
    """The signature names to write: `signatures` checked against `available_signatures(model)` (default all)."""
    available = available_signatures(model)
    if signatures is None:
        return available
    if isinstance(signatures, str):
        signatures = [signatures]
    signatures = list(signatures)
    unknown = [s for s in signatures if s not in available]
    if unknown or not signatures:
        hint = ""
        if any(s in ("classify", "embed") for s in unknown):
            hint = (
                " String signatures need a TextClassifier ('classify') or TextEmbedder ('embed') built with a "
                "`preprocessor` (a TextPreprocessor holding the tokenizer and packer)."
            )
        raise ValueError(
            f"Unknown signature name(s) {unknown or signatures} for {type(model).__name__}; this model can export "
            f"{available}.{hint}"
        )
    return signatures


def build_encoder_archive(model, signatures, batch_size, sequence_length, text_batch_size, tflite=True):
    """A `keras.export.ExportArchive` with the chosen endpoints (`tflite`: string signatures that convert)."""
    from kerasnlp_lite.models.backbone import has_lora, merge_lora

    if has_lora(model):
        # Export kernel + (alpha / r) A B as plain kernels: the converter does
        # not fold the LoRA product (each projection would keep its extra
        # matmul, add and reshape) and quantization must see the merged kernel.
        model = merge_lora(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    if ID_SIGNATURE in signatures:
        specs = input_specs(model, batch_size, sequence_length)

        def serve(inputs):
            return named_outputs(model, call_model(model, inputs))

        archive.add_endpoint(ID_SIGNATURE, serve, input_signature=[specs])
    text = text_signature(model)
    if text is not None and text[0] in signatures:
        name, output_name = text
        features = text_features(model.preprocessor, tflite)
        length = packer_length(model)

        def serve_text(text):
            packed = dict(features(text))
            num_truncated = packed.pop("num_truncated")
            if length is not None:
                # Static length (and batch, when fixed) for the converter: [B, L].
                packed = {k: tf.reshape(v, [text_batch_size or -1, length]) for k, v in packed.items()}
            inputs = {k: tf.cast(packed[k], model.input[k].dtype) for k in model.input}
            return {output_name: call_model(model, inputs), "num_truncated": tf.cast(num_truncated, tf.int32)}

        archive.add_endpoint(name, serve_text, input_signature=[tf.TensorSpec([text_batch_size], tf.string, name="text")])
    return archive


def text_features(preprocessor, tflite):
    """`[B]` strings -> the preprocessor's features (packed inputs and `num_truncated`), as TF code.

    For TFLite, the tokenizer runs as its `TokenizerGraph` (text_graph.py: the
    same ids through ops TFLite has; WordPiece without its detokenization
    tables) and the preprocessor's own packer frames the ids (start / end
    tokens, padding, truncation counted in `num_truncated`), exactly as
    `preprocessor.features`. A SavedModel runs `preprocessor.features` itself.

    Raises:
        ValueError: for TFLite, a tokenizer that cannot go to TFLite.
    """
    from kerasnlp_lite.export.text_graph import TokenizerGraph

    if not tflite:
        return preprocessor.features
    graph = TokenizerGraph(preprocessor.tokenizer, detokenize=False)
    return lambda text: preprocessor.packer(graph.tokenize_ragged(text))


def packer_length(model):
    """The sequence length of the model's packer, or None."""
    packer = getattr(getattr(model, "preprocessor", None), "packer", None)
    return getattr(packer, "sequence_length", None)


def default_sequence_length(model):
    """L of the id inputs: the packer's, else the backbone's `max_sequence_length` (the shortest one's)."""
    length = packer_length(model)
    if length is None:
        backbone = getattr(model, "backbone", model)
        length = getattr(backbone, "max_sequence_length", None)
    if length is None:  # a functional model around backbones: the shortest one's
        lengths = [getattr(layer, "max_sequence_length", None) for layer in model._flatten_layers()]
        lengths = [n for n in lengths if isinstance(n, int)]
        length = min(lengths) if lengths else None
    return length


def check_model(model):
    """Raises TypeError unless `model` is a built functional Keras model."""
    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None):
        raise TypeError(
            f"Expected a built functional keras.Model (a backbone or task of this library), got {type(model).__name__}."
        )

