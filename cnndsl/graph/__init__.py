"""The typed graph and what is computed from it alone.

`ir` is the network as a DAG of layer nodes in topological order, each with its shapes
and its source span; `analysis` computes parameters, MACs, FLOPs, receptive fields and
memory; `structure` and `dominators` read the graph as the language's nesting of chains
and merges (for the report's tree, the printer and the diagrams).

Imports: `layers`, `syntax`, `support`.
"""
