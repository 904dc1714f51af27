"""Child process for `export_causal_lm` and `export_seq2seq_lm`: a `.keras` model (+ tokenizer config) in,
`.tflite` out.

The spec (JSON) is written by `tflite.convert_bundle_in_child`. One conversion per process: the TFLite
converter leaks memory.
"""

import json
import os
import sys
import tempfile


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        spec = json.load(f)

    import keras

    from kerasnlp_lite.export.tflite import convert_saved_model, write_conversion
    from kerasnlp_lite.saving import load_model  # registers every library class first

    model = load_model(spec["keras_path"])
    tokenizer = None
    if spec["tokenizer"] is not None:
        tokenizer = keras.saving.deserialize_keras_object(spec["tokenizer"])
    if spec["kind"] == "seq2seq":
        from kerasnlp_lite.export.seq2seq import build_seq2seq_archive

        archive, signatures = build_seq2seq_archive(
            model,
            spec["max_length"],
            spec["max_source_length"],
            tokenizer=tokenizer,
            max_top_k=spec["max_top_k"],
            max_stop_tokens=spec["max_stop_tokens"],
        )
    else:
        from kerasnlp_lite.export.lm_bundle import build_causal_lm_archive

        archive, signatures = build_causal_lm_archive(
            model,
            spec["max_length"],
            tokenizer=tokenizer,
            generate_signature=spec["generate_signature"],
            max_top_k=spec["max_top_k"],
            max_stop_tokens=spec["max_stop_tokens"],
        )
    with tempfile.TemporaryDirectory() as tmp:
        saved_model_dir = os.path.join(tmp, "saved_model")
        archive.write_out(saved_model_dir, verbose=False)
        return write_conversion(
            lambda: convert_saved_model(
                saved_model_dir, signature_keys=signatures, quantize=spec["quantize"], allow_tftext_ops=tokenizer is not None
            ),
            spec["tflite_path"],
        )


if __name__ == "__main__":
    sys.exit(main())
