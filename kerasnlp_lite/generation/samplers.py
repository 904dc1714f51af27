"""Token samplers: greedy, temperature, top-k, top-p (nucleus), and the beam-search settings.

Each sampler maps next-token logits `[B, V]` (float32) to token ids `[B]`
(int32). Random samplers draw from a `[2]` int32 seed that the decode loop
derives from the user's seed and the position, so a run is reproducible,
and the ops compile under XLA (`jit_compile=True`) and inside a
`tf.while_loop`.

Sampling is Gumbel-max (argmax of logits + Gumbel noise, an exact draw from
softmax(logits); Gumbel 1954, used for sampling by Maddison et al. 2014)
with the uniform numbers made by an integer hash of the seed and the
element index (murmur3's 32-bit finalizer). TF's stateless RNG kernels give
different numbers with and without XLA for the same seed; integer
arithmetic does not, so `generate(..., seed=s)` gives the same samples with
`jit_compile=True` and without (up to a last-bit difference of `log`
between the two backends deciding a near-tie, which we have not seen).
"""


import numpy as np
import tensorflow as tf

from kerasnlp_lite.utils.validation import is_int, is_number


def check_logits(logits):
    """`logits` as a float tensor `[B, V]`; TypeError/ValueError naming `logits` otherwise.

    Rank and dtype are checked on the static shape (free in a graph). NaN is
    checked eagerly only: argmax over NaN returns an arbitrary id, and the
    decode loop runs in a graph where a per-step check would cost time.
    """
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        raise TypeError(f"`logits` must be a float tensor [batch, vocabulary_size], got dtype {logits.dtype.name}.")
    if logits.shape.rank != 2:
        raise ValueError(f"`logits` must have shape [batch, vocabulary_size] (rank 2), got shape {logits.shape}.")
    if tf.executing_eagerly() and np.isnan(logits.numpy()).any():
        raise ValueError("`logits` hold NaN: the model's output is broken (check its inputs and weights).")
    return logits


def _check_temperature(temperature):
    if not is_number(temperature) or not temperature > 0:
        raise ValueError(f"`temperature` must be a number > 0, got {temperature!r}.")
    return float(temperature)


def _mix32(x):
    """murmur3's fmix32: a bijective avalanche of uint32 values."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
    x = x * tf.constant(0x85EBCA6B, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 13))
    x = x * tf.constant(0xC2B2AE35, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def hash_uniform(shape, seed):
    """Uniform numbers in (0, 1), float32 `shape`, from a `[2]` int32 `seed`, identical under XLA and TF."""
    seed = tf.cast(seed, tf.uint32)  # int32 -> uint32 keeps the bits
    key = _mix32(tf.bitwise.bitwise_xor(seed[0], _mix32(seed[1] + tf.constant(0x9E3779B9, tf.uint32))))
    counter = tf.cast(tf.range(tf.reduce_prod(shape)), tf.uint32)
    bits = _mix32(counter * tf.constant(0x9E3779B9, tf.uint32) + key)
    # The top 24 bits, centred in their interval: never exactly 0 or 1, so both logs below stay finite.
    uniform = (tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) + 0.5) * (1.0 / (1 << 24))
    return tf.reshape(uniform, shape)


def gumbel_max_sample(logits, seed):
    """One draw per row from softmax(logits) `[B, V]` -> int32 `[B]` (argmax of logits + Gumbel noise)."""
    logits = tf.cast(logits, tf.float32)
    gumbel = -tf.math.log(-tf.math.log(hash_uniform(tf.shape(logits), seed)))
    return tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)


class Sampler:
    """Base class: `__call__(logits [B, V], seed [2]) -> ids [B]`."""

    def __call__(self, logits, seed):
        raise NotImplementedError

    def check_vocabulary_size(self, vocabulary_size):
        """Raises ValueError if the sampler cannot run over `vocabulary_size` tokens."""

    def get_config(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class GreedySampler(Sampler):
    """argmax: the most probable token (ties go to the lowest id)."""

    def __call__(self, logits, seed):
        return tf.argmax(check_logits(logits), axis=-1, output_type=tf.int32)


class RandomSampler(Sampler):
    """Samples from softmax(logits / temperature) over the whole vocabulary.

    Temperature < 1 sharpens the distribution, > 1 flattens it (Ackley et
    al. 1985; used for text by e.g. Holtzman et al. 2020, section 3.3).
    """

    def __init__(self, temperature=1.0):
        self.temperature = _check_temperature(temperature)

    def _sample(self, logits, seed):
        return gumbel_max_sample(logits, seed)  # [B, V] -> [B]

    def __call__(self, logits, seed):
        return self._sample(check_logits(logits) / self.temperature, seed)

    def get_config(self):
        return {"temperature": self.temperature}


class TopKSampler(RandomSampler):
    """Samples among the k most probable tokens, renormalised (Fan et al. 2018).

    k=1 is greedy decoding.
    """

    def __init__(self, k=10, temperature=1.0):
        if not is_int(k) or k < 1:
            raise ValueError(f"`k` must be an integer >= 1, got {k!r}.")
        super().__init__(temperature)
        self.k = int(k)

    def check_vocabulary_size(self, vocabulary_size):
        if vocabulary_size is not None and self.k > vocabulary_size:
            raise ValueError(f"`k`={self.k} exceeds the vocabulary size {vocabulary_size}.")

    def __call__(self, logits, seed):
        logits = check_logits(logits)
        self.check_vocabulary_size(logits.shape[-1])
        values, indices = tf.math.top_k(logits / self.temperature, k=self.k)  # [B, k] each
        choice = self._sample(values, seed)  # [B] in [0, k)
        return tf.gather(indices, choice, axis=1, batch_dims=1)

    def get_config(self):
        return {"k": self.k, "temperature": self.temperature}


class TopPSampler(RandomSampler):
    """Nucleus sampling (Holtzman et al. 2020, section 3.1).

    Samples from the smallest set of most probable tokens whose total
    probability reaches `p`, renormalised. The most probable token is always
    in the nucleus.
    """

    def __init__(self, p=0.9, temperature=1.0):
        if not is_number(p) or not 0.0 < p <= 1.0:
            raise ValueError(f"`p` must be a number in (0, 1], got {p!r}.")
        super().__init__(temperature)
        self.p = float(p)

    def nucleus_logits(self, logits):
        """Logits `[B, V]` with every token outside the nucleus set to a very negative value."""
        logits = logits / self.temperature
        vocabulary_size = tf.shape(logits)[-1]
        sorted_logits, order = tf.math.top_k(logits, k=vocabulary_size)  # descending, [B, V]
        probabilities = tf.nn.softmax(sorted_logits, axis=-1)
        # Mass strictly before each token: keep a token while that mass is < p,
        # so the set stops at the first token that brings it to >= p. The margin
        # absorbs float32 rounding (softmax(log 0.5) sums to 0.49999997 on some
        # CPUs, which would let a token past a nucleus that is already whole);
        # p = 1 keeps every token, and the most likely token is always kept.
        mass_before = tf.cumsum(probabilities, axis=-1, exclusive=True)
        keep_sorted = mass_before < (self.p - 1e-6 if self.p < 1.0 else 2.0)
        keep_sorted = tf.logical_or(keep_sorted, tf.range(vocabulary_size) == 0)
        # Back to vocabulary order: token v sits at sorted position argsort(order)[v].
        keep = tf.gather(keep_sorted, tf.argsort(order, axis=-1), axis=1, batch_dims=1)
        return tf.where(keep, logits, tf.fill(tf.shape(logits), tf.constant(-1e9, logits.dtype)))

    def __call__(self, logits, seed):
        # nucleus_logits already divides by the temperature.
        return self._sample(self.nucleus_logits(check_logits(logits)), seed)

    def get_config(self):
        return {"p": self.p, "temperature": self.temperature}


class BeamSearch(Sampler):
    """Beam search: keeps the `num_beams` highest log-probability prefixes per prompt.

    Finished beams (ended by a stop token) keep their score and compete with
    the open ones. The returned sequence maximises
    sum log P / (generated length ** length_penalty); `length_penalty=0`
    (the default) is the plain sum, the quantity beam search ranks by at
    every step. With `num_beams=1` it is greedy decoding.
    """

    def __init__(self, num_beams=4, length_penalty=0.0):
        if not is_int(num_beams) or num_beams < 1:
            raise ValueError(f"`num_beams` must be an integer >= 1, got {num_beams!r}.")
        if not is_number(length_penalty):
            raise ValueError(f"`length_penalty` must be a number, got {length_penalty!r}.")
        self.num_beams = int(num_beams)
        self.length_penalty = float(length_penalty)

    def check_vocabulary_size(self, vocabulary_size):
        if self.num_beams > vocabulary_size:
            raise ValueError(f"`num_beams`={self.num_beams} exceeds the vocabulary size {vocabulary_size}.")

    def get_config(self):
        return {"num_beams": self.num_beams, "length_penalty": self.length_penalty}


SAMPLERS = {
    "greedy": GreedySampler,
    "random": RandomSampler,
    "top_k": TopKSampler,
    "top_p": TopPSampler,
    "beam": BeamSearch,
}


def get_sampler(sampler, **kwargs):
    """A sampler from a name ("greedy", "random", "top_k", "top_p", "beam") and arguments, or an instance."""
    if isinstance(sampler, Sampler):
        if kwargs:
            raise ValueError(f"Sampler arguments {sorted(kwargs)} were given with a sampler instance {sampler!r}.")
        return sampler
    if sampler not in SAMPLERS:
        raise ValueError(f"`sampler` must be one of {sorted(SAMPLERS)} or a Sampler, got {sampler!r}.")
    try:
        return SAMPLERS[sampler](**kwargs)
    except TypeError as error:
        raise ValueError(f"Bad arguments for sampler {sampler!r}: {error}.") from None
