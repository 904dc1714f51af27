#!/usr/bin/env python3
"""List the ops of a `.tflite` file and check that a phone can run them.

    python export/tflite_ops.py model.tflite [--allow-tftext]

Exit status 1 if any Flex op (LiteRT 2.x cannot run them) or, unless
`--allow-tftext`, any custom op is present.
"""

import argparse
import collections
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tflite_path")
    parser.add_argument("--allow-tftext", action="store_true", help="accept tf-text custom ops (tokenizers)")
    args = parser.parse_args(argv)

    from kerasnlp_lite.export.tflite import tflite_op_names

    with open(args.tflite_path, "rb") as f:
        counts = collections.Counter(tflite_op_names(f.read()))
    for name, count in sorted(counts.items()):
        print(f"{count:6d}  {name}")
    flex = [name for name in counts if name.startswith("Flex")]
    custom = [name for name in counts if not name.isupper() and name not in flex]
    if flex:
        print(f"FAIL: Flex ops {flex} do not run on LiteRT 2.x", file=sys.stderr)
        return 1
    if custom and not args.allow_tftext:
        print(f"FAIL: custom ops {custom} need --allow-tftext and tf-text's registerers", file=sys.stderr)
        return 1
    print("ok: builtin ops" + (" and tf-text custom ops" if custom else "") + " only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
