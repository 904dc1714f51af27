#!/usr/bin/env python3
"""Export a `.keras` model to TFLite (checked, with a report) or to a SavedModel.

    python export/convert.py --model model.keras --format tflite --quantize dynamic_int8 --out DIR
    python export/convert.py --model model.keras --format saved_model --out DIR

The same tool as `kerasnlp-lite export` (flags and behaviour are those of
`kerasnlp_lite.cli`): the model loads in Keras safe mode, conversion runs in a
child process with builtin ops (plus tf-text's tokenizer kernels) only, Flex
ops are refused with the op's name and layer, and the written file is run
with the LiteRT interpreter and compared with Keras. A `CausalLM` becomes a
generation bundle (tokenize / prefill / decode / detokenize / generate); see
export/CONTRACT.md.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    from kerasnlp_lite.cli import main as cli_main

    return cli_main(["export"] + list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
