"""What the denoising pretraining tasks share: noise specs, document checks, per-example seeding.

The tasks themselves are `Seq2SeqLM`s in their family folders, with a
`denoising_examples` method that turns documents into teacher-forcing
examples of their objective:

- `kerasnlp_lite.models.bart.BartDenoiser`: the encoder reads a noised
  document (any of BART's five transforms, `kerasnlp_lite.data.bart_noise`),
  the decoder reconstructs the original document.
- `kerasnlp_lite.models.t5.T5Denoiser`: the encoder reads the document with
  some spans replaced by sentinels, the decoder writes the dropped spans, each
  behind its sentinel (`kerasnlp_lite.data.span_corruption`).

Example i of `denoising_examples(documents, seed)` is noised with the seed
`example_seed(seed, i)`: the same documents and seed give the same examples,
and example i does not depend on the other documents.
"""

import numpy as np
import tensorflow as tf

from kerasnlp_lite.data.seeds import example_seed, make_seed
from kerasnlp_lite.utils.validation import is_int

# BART's transforms in the order they are applied (fairseq's `DenoisingDataset`: permute
# sentences, mask / delete / infill, rotate), with the arguments a `noise` entry may set.
NOISE_ARGUMENTS = {
    "sentence_permutation": ("sentence_end_id",),
    "token_masking": ("mask_ratio", "unselectable_ids"),
    "token_deletion": ("deletion_ratio", "unselectable_ids"),
    "text_infilling": ("mask_ratio", "poisson_lambda"),
    "document_rotation": (),
}
NOISE_FUNCTIONS = ("sentence_permutation", "token_masking", "token_deletion", "text_infilling", "document_rotation")
NEEDS_MASK = ("token_masking", "text_infilling")

# BART's best combination (section 5.1 / 5.3): 30% of tokens infilled in Poisson(3) spans, sentences permuted.
DEFAULT_NOISE = {"text_infilling": {"mask_ratio": 0.3, "poisson_lambda": 3.0}, "sentence_permutation": {}}


def plain_config(value):
    """JSON-friendly copy of a noise argument (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [plain_config(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def normalize_noise(noise):
    """A `noise` spec -> `{name: {argument: value}}` in application order.

    Accepts None (BART's best: `DEFAULT_NOISE`), a dict `{name: kwargs or
    None}`, or a list of names and `(name, kwargs)` pairs.
    """
    if noise is None:
        noise = DEFAULT_NOISE
    if isinstance(noise, str):
        noise = [noise]
    if isinstance(noise, dict):
        items = list(noise.items())
    elif isinstance(noise, (list, tuple)):
        items = []
        for entry in noise:
            if isinstance(entry, str):
                items.append((entry, None))
            elif isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str):
                items.append((entry[0], entry[1]))
            else:
                raise TypeError(f"`noise` entries must be names or (name, kwargs) pairs, got {entry!r}.")
    else:
        raise TypeError(f"`noise` must be None, a dict or a list of transform names, got {type(noise).__name__}.")
    given = {}
    for name, kwargs in items:
        if name not in NOISE_ARGUMENTS:
            raise ValueError(f"Unknown noise transform {name!r}; choose from {list(NOISE_FUNCTIONS)}.")
        if name in given:
            raise ValueError(f"Noise transform {name!r} is given twice.")
        kwargs = {} if kwargs is None else kwargs
        if not isinstance(kwargs, dict):
            raise TypeError(f"The arguments of {name!r} must be a dict, got {kwargs!r}.")
        unknown = sorted(set(kwargs) - set(NOISE_ARGUMENTS[name]))
        if unknown:
            raise ValueError(
                f"{name!r} takes the arguments {list(NOISE_ARGUMENTS[name])} here (the seed, mask, BOS and EOS "
                f"ids come from the denoiser), got {unknown}."
            )
        given[name] = {key: plain_config(value) for key, value in kwargs.items()}
    if not given:
        raise ValueError("`noise` names no transform; give at least one of " f"{list(NOISE_FUNCTIONS)}.")
    return {name: given[name] for name in NOISE_FUNCTIONS if name in given}


def check_documents(documents, name="documents_token_ids"):
    """Documents as flat int lists, plus the sentence ends where a document is given as sentences."""
    if isinstance(documents, np.ndarray) and documents.ndim == 2:
        documents = documents.tolist()
    if isinstance(documents, tf.RaggedTensor):
        documents = documents.to_list()
    if not isinstance(documents, (list, tuple)) or not documents:
        got = "an empty list" if isinstance(documents, (list, tuple)) else type(documents).__name__
        raise TypeError(f"`{name}` must be a non-empty list of token-id lists, got {got}.")
    flat, ends = [], []
    for i, document in enumerate(documents):
        if isinstance(document, (tf.Tensor, tf.RaggedTensor)):
            document = document.numpy().tolist() if isinstance(document, tf.Tensor) else document.to_list()
        document = list(document) if not isinstance(document, np.ndarray) else document.tolist()
        if document and isinstance(document[0], (list, tuple, np.ndarray)):  # a list of sentences
            sentences = [np.asarray(s).reshape(-1).tolist() for s in document]
            ids = [t for s in sentences for t in s]
            sentence_ends = np.zeros(len(ids), bool)
            sentence_ends[np.cumsum([len(s) for s in sentences if s]) - 1] = True
        else:
            ids, sentence_ends = document, None
        if not ids:
            raise ValueError(f"`{name}[{i}]` is empty.")
        if not all(is_int(t) for t in ids):
            raise TypeError(f"`{name}[{i}]` must hold integer token ids.")
        flat.append([int(t) for t in ids])
        ends.append(sentence_ends)
    return flat, ends


def ragged_rows(rows, dtype):
    lengths = [len(r) for r in rows]
    values = np.concatenate([np.asarray(r, dtype) for r in rows]) if sum(lengths) else np.zeros([0], dtype)
    return tf.RaggedTensor.from_row_lengths(values, np.asarray(lengths, "int64"))


def map_examples(function, columns, seed):
    """`function(*row_i, example_seed(seed, i))` for every row i, in a `tf.data` pipeline (one trace, no
    per-example Python). `columns`: `(rows, dtype)` pairs. Returns the outputs as lists of id lists (the
    structure of `function`'s output: one list, or a dict of lists)."""
    dataset = tf.data.Dataset.from_tensor_slices(tuple(ragged_rows(rows, dtype) for rows, dtype in columns))
    base = make_seed(seed)
    dataset = dataset.enumerate().map(
        lambda index, row: function(*row, example_seed(base, index)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    outputs = dataset.ragged_batch(len(columns[0][0])).get_single_element()
    return tf.nest.map_structure(lambda ragged: ragged.to_list(), outputs)


def check_documents_range(documents, vocabulary_size, name="documents_token_ids"):
    for i, ids in enumerate(documents):
        low, high = min(ids), max(ids)
        if low < 0 or high >= vocabulary_size:
            raise ValueError(f"`{name}[{i}]` has ids in [{low}, {high}], outside [0, {vocabulary_size}).")
