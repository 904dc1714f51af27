"""Child process for `export_litertlm`: a `.keras` CausalLM in, the LiteRT-LM-convention `.tflite` out.

One conversion per process: the TFLite converter leaks memory.
"""

import json
import os
import sys
import tempfile


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        spec = json.load(f)

    from kerasnlp_lite.export.litertlm import build_litertlm_archive
    from kerasnlp_lite.export.tflite import convert_saved_model, write_conversion
    from kerasnlp_lite.saving import load_model  # registers every library class first

    model = load_model(spec["keras_path"])
    archive, signatures = build_litertlm_archive(model, spec["max_length"], spec["prefill_lengths"])
    with tempfile.TemporaryDirectory() as tmp:
        saved_model_dir = os.path.join(tmp, "saved_model")
        archive.write_out(saved_model_dir, verbose=False)
        return write_conversion(
            lambda: convert_saved_model(saved_model_dir, signature_keys=signatures, quantize=spec["quantize"]),
            spec["tflite_path"],
            # LiteRT-LM's engine runs this model, not LiteRunner (nothing would verify a checksum), and the
            # first stamp rebuilds the flatbuffer without the converter's 16-byte buffer alignment (the Python
            # builder ignores `force_align`), which that engine was not tested with.
            stamp=False,
        )


if __name__ == "__main__":
    sys.exit(main())
