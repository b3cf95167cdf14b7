"""Running: the NumPy interpreter over files of examples, in bounded memory.

`runner` streams a `.npy` a batch at a time to `cnndsl run`'s output; `many` does the
same for a network of several inputs or outputs (`.npz` by name); `inputs` reads the
examples without memory-mapping them.

`backends` runs the network with another backend than NumPy's (`--backend`).

Imports: the API (`cnndsl.network`) and everything below it.
"""

# `cnndsl run --backend`'s choices, here so the command line lists them without NumPy.
BACKENDS = ("numpy", "onnxruntime", "torch", "keras")
