"""course_lib: the tested support library for Week 7, "Transformers for Generative Tasks".

Each module holds one idea that a notebook builds from scratch first:

- ``attention``   scaled dot-product, multi-head and cross attention, masks
- ``positional``  sinusoidal, learned, rotary and "none" position information
- ``configs``     one config dataclass per model family, plus named presets
- ``blocks``      encoder and decoder blocks
- ``models``      encoder-only, decoder-only and encoder-decoder models
- ``kv_cache``    the key/value cache that makes generation fast
- ``tokenizers``  character-level and byte-pair tokenizers
- ``data``        corpora that ship with Python, batching, splits
- ``tasks``       deterministic sequence-to-sequence tasks with fixed splits
- ``train``       one small training loop (and ``python -m course_lib.train``)
- ``decoding``    greedy, sampling filters, beam search
- ``generate``    ``python -m course_lib.generate``
- ``checkpoints`` safetensors + JSON checkpoints with checksums
- ``architecture`` parameters, FLOPs and memory of a configuration (published models included)
- ``viz``/``widgets`` plots and interactive views
- ``bertviz_offline`` bertviz's head and model views, drawn with no network
- ``exercises``   the notebooks' exercise self-checks
- ``env``         the environment check of notebook 00
"""

__version__ = "0.1.0"
