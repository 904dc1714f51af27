"""The tokenizer interface shared by WordPiece, SentencePiece and byte-level BPE.

Tokenizers are Keras layers (so a task model can carry one and `.keras` files
save it) built on TensorFlow string ops that also run inside `tf.data`,
`tf.function` and, for the tf-text "fast" kernels, TFLite as custom ops.

Shapes: a scalar string gives a 1-D int32 tensor of ids; a batch `[B]` of
strings gives a `tf.RaggedTensor` `[B, None]`. Packing to fixed length is the
packers' job (`kerasnlp_lite.tokenizers.packers`), where truncation is
explicit and reported.
"""

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite.utils.validation import is_int


class Tokenizer(keras.layers.Layer):
    """Base class. Subclasses implement `tokenize`, `detokenize`,
    `token_to_id`, `id_to_token`, `vocabulary_size` and `get_vocabulary`, and
    set `self.special_tokens` (a dict role -> token string, e.g.
    {"cls": "[CLS]", "pad": "[PAD]"}); they expose each special token and its
    id as properties (`cls_token`, `cls_token_id`, ...)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "int32")
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.special_tokens = {}

    # --- to implement -----------------------------------------------------
    def tokenize(self, inputs):
        raise NotImplementedError

    def detokenize(self, ids):
        raise NotImplementedError

    def get_vocabulary(self):
        raise NotImplementedError

    @property
    def vocabulary_size(self):
        raise NotImplementedError

    # --- shared -----------------------------------------------------------
    def call(self, inputs):
        return self.tokenize(inputs)

    def token_to_id(self, token):
        """The id of one token string; KeyError naming it if it is unknown."""
        lookup = getattr(self, "_token_to_id_table", None)
        if lookup is None:
            lookup = {t: i for i, t in enumerate(self.get_vocabulary())}
            self._token_to_id_table = lookup
        if token not in lookup:
            raise KeyError(f"Token {token!r} is not in the vocabulary.")
        return lookup[token]

    def id_to_token(self, id):
        """The token string of one id; ValueError if out of range."""
        vocabulary = self.get_vocabulary()
        if not is_int(id):
            raise TypeError(f"`id` must be an integer, got {id!r}.")
        if not 0 <= id < len(vocabulary):
            raise ValueError(f"`id` must be in [0, {len(vocabulary)}), got {id}.")
        return vocabulary[id]

    @property
    def special_token_ids(self):
        """Dict role -> id of the special tokens."""
        return {role: self.token_to_id(token) for role, token in self.special_tokens.items()}

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(tuple(inputs.shape) + (None,), dtype="int32", ragged=True)

    # --- preset folders (see `kerasnlp_lite.models.preset_io`) -------------
    @classmethod
    def from_preset(cls, preset_dir, **kwargs):
        """The tokenizer saved in `preset_dir` (tokenizer.json, vocabulary from assets/tokenizer/)."""
        from kerasnlp_lite.models import preset_io

        return preset_io.load_tokenizer(preset_dir, cls, **kwargs)

    def save_to_preset(self, preset_dir):
        """Writes tokenizer.json and the vocabulary files under assets/tokenizer/ to `preset_dir`."""
        from kerasnlp_lite.models import preset_io

        preset_io.save_to_preset(self, preset_dir)


def to_string_tensor(inputs, name="inputs"):
    """Python str/bytes, lists of them, numpy or tf strings -> tf.string tensor of rank 0 or 1."""
    if isinstance(inputs, tf.RaggedTensor):
        raise ValueError(f"`{name}` must be a scalar string or a 1-D batch of strings, got a ragged tensor.")
    if not isinstance(inputs, (tf.Tensor, tf.Variable)):
        if isinstance(inputs, (list, tuple)) and not all(isinstance(x, (str, bytes)) for x in inputs):
            raise TypeError(f"`{name}` must contain strings, got {[type(x).__name__ for x in inputs][:5]}.")
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind not in "USO":
            raise TypeError(f"`{name}` must be strings, got a numpy array of dtype {inputs.dtype}.")
        if not isinstance(inputs, (str, bytes, list, tuple, np.ndarray)):
            raise TypeError(f"`{name}` must be a string or a batch of strings, got {type(inputs).__name__}.")
        _check_encodable(inputs, name)
        inputs = tf.convert_to_tensor(inputs, dtype=tf.string)
    if inputs.dtype != tf.string:
        raise TypeError(f"`{name}` must have dtype string, got {inputs.dtype.name}.")
    if inputs.shape.rank not in (0, 1):
        raise ValueError(
            f"`{name}` must be a scalar string or a 1-D batch of strings, got shape {inputs.shape}."
        )
    return inputs


def _check_encodable(inputs, name):
    """ValueError naming the element and character when a Python string holds an unpaired surrogate
    (e.g. from `bytes.decode(errors="surrogateescape")`): it has no UTF-8 encoding, and TF's own error
    ("Error converting unicode string") names neither."""
    flat = [inputs] if isinstance(inputs, (str, bytes)) else np.asarray(inputs, dtype=object).reshape(-1).tolist()
    for i, text in enumerate(flat):
        if isinstance(text, str):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                where = "" if isinstance(inputs, str) else f"[{i}]"
                raise ValueError(
                    f"`{name}`{where} holds an unpaired surrogate U+{ord(text[error.start]):04X} at character "
                    f"{error.start}, which has no UTF-8 encoding: fix the text, or encode it yourself "
                    "(`text.encode('utf-8', 'replace')`)."
                ) from None


def check_valid_utf8(inputs, name="inputs"):
    """Makes invalid UTF-8 an error, eagerly and in graphs (`tf.data`, `tf.function`), never silent.

    Eagerly: raises ValueError naming the first invalid element. In a graph:
    returns `inputs` behind an Assert that fails at run time with
    InvalidArgumentError whose message names `name`, the invalid elements'
    indices and their text with U+FFFD at the bad bytes. The test is
    `unicode_transcode(x, errors="replace") == x` (UTF-8 to UTF-8 keeps
    valid text byte for byte; agrees with Python's strict decoder, tested).
    TFLite has no assert (the converter drops an Assert and the ops only it
    uses, measured), so the string signatures call tokenizers with
    `validate_utf8=False`, and `LiteRunner` checks their text instead.

    Returns:
        `inputs` (in a graph, with the check as a control dependency).
    """
    if tf.executing_eagerly():
        flat = tf.reshape(inputs, [-1]).numpy()
        for i, value in enumerate(flat):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(f"`{name}`[{i}] is not valid UTF-8 ({error}).") from None
        return inputs
    flat = tf.reshape(inputs, [-1])
    replaced = tf.strings.unicode_transcode(flat, "UTF-8", "UTF-8", errors="replace")
    invalid = tf.not_equal(replaced, flat)
    shown = tf.strings.substr(tf.boolean_mask(replaced, invalid), 0, 60, unit="UTF8_CHAR")
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(invalid)),
        [f"`{name}` must be valid UTF-8; elements at these indices are not (U+FFFD marks the bad bytes):",
         tf.reshape(tf.where(invalid), [-1]), shown],
        summarize=3,
    )
    with tf.control_dependencies([check]):
        return tf.identity(inputs)
