"""The PyTorch backend (issue 23, being built): a cnndsl graph as a `torch.nn.Module` that
computes exactly the spec's function in PyTorch's layout (channels first in and out).

`steps` says, one method per layer kind, which modules and operations a layer becomes
(`ops`: each written once as the readable source's text and as the call the built module
makes); `module.build_module` builds the module in this process with cnndsl's weights.
torch is imported only by `module`, and only where PyTorch is wanted.

Imports: `graph`, `layers`, `support`, `backends.onnx.geometry`.
"""

from .steps import INSTALL

__all__ = ["INSTALL"]
