"""The `generate` skeleton shared by `CausalLM` and `Seq2SeqLM`.

After KerasHub's `CausalLM.generate`: a family-specific
`generate_preprocess` turns prompts (token ids or text) into int32 arrays, one
compiled decode function per setting (cached on the model) runs the loop of
`kerasnlp_lite.generation.decode`, and `generate_postprocess` detokenizes when
the input was text. A family supplies:

- `generate_preprocess(inputs, max_length, **family_kwargs)` -> (arrays, skip_ids):
  the int32 arrays the decode function takes before the seed, and the ids to
  leave out of detokenized text (besides the stop ids);
- `DECODE_FUNCTION`: `decode.build_generate_function` or
  `decode.build_seq2seq_generate_function`;
- `output_vocabulary_size`, `default_stop_token_ids()` (what `"auto"` means)
  and `generate_tokenizer()` (the tokenizer that detokenizes).

Shape legend: B = batch, P = prompt length, M = `max_length`.
"""

import numpy as np
import tensorflow as tf

from kerasnlp_lite.generation.decode import detokenize_rows
from kerasnlp_lite.generation.samplers import get_sampler
from kerasnlp_lite.models import text_inputs
from kerasnlp_lite.models.task import PaddedTokenLossMixin, Task
from kerasnlp_lite.utils.validation import check_stop_token_ids


class GenerativeTask(PaddedTokenLossMixin, Task):
    """Base of the language-model tasks that `generate` (not registered: abstract)."""

    DECODE_FUNCTION = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._generate_functions = {}

    # --- per family ---------------------------------------------------------
    @property
    def output_vocabulary_size(self):
        raise NotImplementedError

    def default_stop_token_ids(self):
        """The ids `stop_token_ids="auto"` stands for."""
        raise NotImplementedError

    def generate_preprocess(self, inputs, max_length, **family_kwargs):
        raise NotImplementedError

    def generate_tokenizer(self):
        raise NotImplementedError

    def label_range(self):
        return self.output_vocabulary_size

    # --- shared -------------------------------------------------------------
    def resolve_stop_token_ids(self, stop_token_ids):
        """"auto" -> `default_stop_token_ids()`; None, one id or ids -> a checked tuple."""
        if isinstance(stop_token_ids, str):
            if stop_token_ids != "auto":
                raise ValueError(f"`stop_token_ids` must be 'auto', None or token ids, got {stop_token_ids!r}.")
            stop_token_ids = self.default_stop_token_ids()
        return check_stop_token_ids(stop_token_ids, self.output_vocabulary_size)

    def run_generate(self, inputs, max_length, sampler, stop_token_ids, seed, pad_token_id, use_cache, jit_compile,
                     sampler_kwargs, **family_kwargs):
        """The skeleton: preprocess, run the cached decode function, postprocess text."""
        sampler = get_sampler(sampler, **sampler_kwargs)
        sampler.check_vocabulary_size(self.output_vocabulary_size)
        stop_token_ids = self.resolve_stop_token_ids(stop_token_ids)
        single_text = isinstance(inputs, (str, bytes))
        is_text = text_inputs.is_text_batch(inputs)
        arrays, skip_ids = self.generate_preprocess(inputs, max_length, is_text=is_text, **family_kwargs)
        key = (int(max_length), repr(sampler), stop_token_ids, int(pad_token_id), bool(use_cache), bool(jit_compile))
        if key not in self._generate_functions:
            self._generate_functions[key] = type(self).DECODE_FUNCTION(
                self, int(max_length), sampler, stop_token_ids, int(pad_token_id), bool(use_cache), bool(jit_compile)
            )
        seed = np.random.randint(0, 2**31 - 1) if seed is None else seed
        outputs = self._generate_functions[key](*[tf.constant(a) for a in arrays], tf.constant(int(seed), tf.int32))
        outputs = {name: value.numpy() for name, value in outputs.items()}
        if not is_text:
            return outputs
        skip = set(stop_token_ids) | set(skip_ids)
        texts = detokenize_rows(self.generate_tokenizer(), outputs["token_ids"], outputs["padding_mask"], skip)
        return texts[0] if single_text else texts
