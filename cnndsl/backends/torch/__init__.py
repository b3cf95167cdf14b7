"""The PyTorch backend: a cnndsl graph as a `torch.nn.Module` that computes exactly the
spec's function in PyTorch's layout (channels first in and out).

`steps` says, one method per layer kind, which modules and operations a layer becomes
(`ops`: each written once as the readable source's text and as the call the built module
makes; `writer`: the ways a method adds them); `module.build_module` builds the module in
this process with cnndsl's weights; `source` writes it as readable code, its `def` blocks
as helper methods (`blocks`); `export` writes a `torch.export` program or a `state_dict`;
`state` carries weights between cnndsl's layout and the `state_dict`, both ways, and
`files` reads PyTorch's files back. torch is imported only where PyTorch is wanted.

Imports: `graph`, `layers`, `support`, `backends.onnx.geometry`.
"""

from .steps import INSTALL

__all__ = ["INSTALL"]
