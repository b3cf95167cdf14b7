"""Backends: the typed graph turned into something that runs.

`numpy/` runs it (the reference semantics, fast); `keras/` builds a `keras.Model`, a
`.keras` file or readable Keras source, and reads `.keras` files back; `onnx/` writes an
ONNX model. `weights` is the LAYER/VARIABLE format and the Keras-like initial draw all
of them share; `given` reads the weights a user gives (`.npz`, `.keras`, arrays). Each
backend has one method per layer kind, and a conformance test walks the catalogue.
TensorFlow and onnx are imported only inside the functions that need them.

Imports: `graph`, `layers`, `syntax`, `support`; never `language` (a backend takes a
graph, however it was made).
"""
