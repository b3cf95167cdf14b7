"""Every limit cnndsl enforces, in one place (docs/reliability.md explains each).

Each is far above what a real network needs and low enough that a spec beyond it is
answered with a clear error in well under a second, instead of exhausting memory, the
stack or the user's patience. The reading limits are checked before Lark runs or as it
reads (cnndsl/syntax/guard.py), so that no part of an 8 MiB spec is read for longer than they
allow; the others before or during the work they bound.
"""

# -- reading a spec -----------------------------------------------------------------------
MAX_SOURCE_BYTES = 8 * 2**20  # a 100,000-layer network written out is about 3 MB
MAX_TOKENS = 1_000_000  # words and symbols in a file: ten for each of 100,000 layers
MAX_STEPS_WRITTEN = 100_000  # `->` arrows in a file, checked before parsing
MAX_ARGUMENTS = 64  # after one step, in one block use, or a block's parameters (a conv
#                     takes eight at most)
MAX_LIST_VALUES = 4_096  # in one comma list (`mean=0.485,0.456,0.406`: one per channel)
MAX_BRANCHES = 10_000  # in one merge (an inception block has four)
MAX_DEFINITIONS = 10_000  # `def` blocks in a file (a block's parameters cover variants)
MAX_NESTING = 200  # merges, repeats and block uses inside each other
MAX_NAME_CHARS = 1_000  # one name: guessing what a megabyte name meant took seconds
MAX_NUMBER_CHARS = 400  # one literal: Python's int() refuses 4,300 digits; 2^40 has 13
MAX_EXPONENT = 400  # in a number literal: 1e999999999 would be a billion-digit integer
MAX_EXPRESSION_CHARS = 1_000  # inside one `{expr}`

# -- expanding it -------------------------------------------------------------------------
MAX_LAYERS = 100_000  # after blocks and `* N` are expanded (an `id` branch counts as one)
MAX_EXPRESSION_STEPS = 2_000_000  # numbers, names and operators evaluated in `{expr}`s
#                                   while expanding (a value kept from before is free)
MAX_ELEMENTS = 2**31  # per tensor, batch axis excluded
MAX_WHOLE = 2**40  # any size, width or count
MAX_RANK = 4  # dimensions of a tensor: a volume with channels

# -- reading a .keras model (cnndsl/backends/keras/files.py), before Keras does ---
# config.json describes the layers: keras.applications' take 925 to 993 bytes a layer
# (NASNetLarge's 1,041 layers: 0.99 MiB), so a network of MAX_LAYERS is about 95 MiB.
MAX_KERAS_CONFIG_BYTES = 128 * 2**20
# Keras stores zip members and HDF5 datasets as they are (1:1); deflate or gzip make real
# weights a little smaller and only arrays of zeros near 1000-fold (deflate's bound). A
# member or dataset declaring more than this many times what it stores is a bomb...
MAX_EXPANSION = 100
# ... once such members or datasets declare more than this in all (a few all-zero arrays
# compressed by another tool stay far below it).
EXPANSION_FLOOR = 64 * 2**20

# -- reading an .onnx model (cnndsl/importers/onnx/reading.py) ---
MAX_ONNX_BYTES = 2**31 - 1  # protobuf's limit on one message: larger weights are external
# External data (PyTorch's dynamo exporter writes every weight there): a CNN of a few
# billion float32 weights at most. Checked against what the model declares, before reading.
MAX_ONNX_EXTERNAL_BYTES = 16 * 2**30
