"""Running: the NumPy interpreter over files of examples, in bounded memory.

`runner` streams a `.npy` a batch at a time to `cnndsl run`'s output; `many` does the
same for a network of several inputs or outputs (`.npz` by name); `inputs` reads the
examples without memory-mapping them.

Imports: the API (`cnndsl.network`) and everything below it.
"""
