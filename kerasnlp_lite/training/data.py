"""Training pipelines with static shapes, and the built-in data of the `train` command.

Every batch has a fixed shape (`drop_remainder=True`, full blocks, masked-LM
outputs padded to `max_selections`), as TPUs and XLA need. Each batch is a
pure function of its global step: example `i` of the run is
`examples[order[i]]` for a fixed permutation `order`, and its masked-LM
corruption is seeded by `(seed, i)`. A run restarted from a checkpoint at
step `s` builds the pipeline from `start_step=s` and sees exactly the batches
the uninterrupted run would have seen (the checkpoint stores the step, see
`kerasnlp_lite.training.checkpointing`).
"""

import numpy as np
import tensorflow as tf

from kerasnlp_lite.data.causal_lm import causal_lm_examples
from kerasnlp_lite.data.corpora import stdlib_corpus
from kerasnlp_lite.data.masking import mask_language_model
from kerasnlp_lite.data.seeds import example_seed
from kerasnlp_lite.tokenizers import SentencePieceTokenizer, train_sentencepiece

TASKS = ("causal_lm", "masked_lm")
MLM_SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]")


def train_builtin_tokenizer(task, vocabulary_size, max_documents):
    """A unigram SentencePiece model (proto bytes) trained on the built-in stdlib corpus.

    Causal LM: SentencePiece's default ids (unk 0, <s> 1, </s> 2). Masked LM:
    pad 0, unk 1, and `[CLS]`, `[SEP]`, `[MASK]` as user symbols.
    """
    _check_task(task)
    documents = stdlib_corpus(max_documents=max_documents)
    sentences = [s for doc in documents for s in doc]
    if task == "causal_lm":
        return train_sentencepiece(sentences, vocabulary_size, model_type="unigram")
    return train_sentencepiece(
        sentences, vocabulary_size, model_type="unigram", user_defined_symbols=MLM_SPECIAL_TOKENS,
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
    )


def builtin_blocks(task, tokenizer, sequence_length, max_documents):
    """Packs the built-in corpus into full blocks of `sequence_length` tokens (numpy int32).

    Causal LM: `causal_lm_examples` with `</s>` after each document: `token_ids`,
    `labels`, `padding_mask`. Masked LM: the document stream cut into blocks
    of T - 2 pieces, each framed as `[CLS] ... [SEP]` (RoBERTa's FULL-SENTENCES
    packing, Liu et al. 2019, section 4.2): `token_ids`, `segment_ids` (all 0),
    `padding_mask`. The short last block is left out: no padding anywhere.
    """
    _check_task(task)
    texts = [" ".join(doc) for doc in stdlib_corpus(max_documents=max_documents)]
    documents = tokenizer.tokenize(tf.constant(texts))
    if task == "causal_lm":
        packed = causal_lm_examples(documents, sequence_length, end_token_id=tokenizer.eos_token_id, pad_last_block=False)
        blocks = {k: packed[k].numpy().astype("int32") for k in ("token_ids", "labels", "padding_mask")}
    else:
        cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        stream = documents.flat_values.numpy().astype("int32")
        body = sequence_length - 2
        num_blocks = len(stream) // body
        pieces = stream[: num_blocks * body].reshape(num_blocks, body)
        token_ids = np.concatenate(
            [np.full((num_blocks, 1), cls_id, "int32"), pieces, np.full((num_blocks, 1), sep_id, "int32")], axis=1
        )
        blocks = {
            "token_ids": token_ids,
            "segment_ids": np.zeros_like(token_ids),
            "padding_mask": np.ones_like(token_ids),
        }
    if len(blocks["token_ids"]) == 0:
        raise ValueError(f"The corpus ({max_documents} documents) gives no full block of {sequence_length} tokens.")
    return blocks


def example_order(num_examples, total_examples, seed):
    """Indices of the examples of a whole run: fresh permutations, pass after pass."""
    rng = np.random.default_rng(seed)
    passes = -(-total_examples // num_examples)
    return np.concatenate([rng.permutation(num_examples) for _ in range(passes)])[:total_examples].astype("int64")


def training_dataset(
    blocks,
    task,
    global_batch_size,
    total_steps,
    start_step=0,
    seed=0,
    vocabulary_size=None,
    mask_token_id=None,
    unselectable_ids=(),
    max_selections=None,
):
    """The `tf.data` pipeline of steps `start_step .. total_steps - 1` (global batches).

    Args:
        blocks: dict of int arrays `[N, T]` (from `builtin_blocks` or your own).
        task: "causal_lm" (x: `token_ids`, `padding_mask`; y: `labels`) or
            "masked_lm" (x: `token_ids`, `segment_ids`, `padding_mask`,
            `mask_positions`; y and sample weights keyed `mlm_logits`).
        global_batch_size: examples per step over all replicas; Keras splits
            it between replicas (and shards it between workers).
        total_steps, start_step: the steps this pipeline covers.
        seed: seeds the example order and the masking.
        vocabulary_size, mask_token_id, unselectable_ids, max_selections:
            masked LM only, see `kerasnlp_lite.data.mask_language_model`
            (dynamic masking: example `i` of the run is masked with seed
            `(seed, i)`, so a block gets a new mask in every pass).

    Returns:
        A finite `tf.data.Dataset` of exactly `total_steps - start_step` batches.
    """
    _check_task(task)
    if not 0 <= start_step <= total_steps:
        raise ValueError(f"Need 0 <= start_step <= total_steps, got {start_step} and {total_steps}.")
    columns = {k: tf.constant(np.asarray(v, "int32")) for k, v in blocks.items()}
    num_examples, length = columns["token_ids"].shape
    order = tf.constant(example_order(num_examples, total_steps * global_batch_size, seed))
    if task == "masked_lm":
        if vocabulary_size is None or mask_token_id is None:
            raise ValueError("A masked-LM pipeline needs `vocabulary_size` and `mask_token_id`.")
        max_selections = max_selections or max(1, round(0.15 * length))

    def example(i):
        row = {k: tf.ensure_shape(tf.gather(v, order[i]), [length]) for k, v in columns.items()}
        if task == "causal_lm":
            return {"token_ids": row["token_ids"], "padding_mask": row["padding_mask"]}, row["labels"]
        masked = mask_language_model(
            row["token_ids"], vocabulary_size=vocabulary_size, mask_token_id=mask_token_id,
            seed=example_seed(seed, i), unselectable_ids=unselectable_ids, padding_mask=row["padding_mask"],
            max_selections=max_selections,
        )
        x = {
            "token_ids": masked["token_ids"],
            "segment_ids": row["segment_ids"],
            "padding_mask": row["padding_mask"],
            "mask_positions": masked["mask_positions"],
        }
        return x, {"mlm_logits": masked["mask_ids"]}, {"mlm_logits": masked["mask_weights"]}

    dataset = tf.data.Dataset.range(start_step * global_batch_size, total_steps * global_batch_size)
    # Deterministic map (the default): the element order never depends on thread timing.
    dataset = dataset.map(example, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(global_batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    # A generated dataset has no files to shard: split each global batch between the
    # workers (DATA). OFF would train every worker on the same examples.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def load_tokenizer(proto):
    return SentencePieceTokenizer(proto)


def _check_task(task):
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}, got {task!r}.")
