"""The `.cnn` printer (`printer.to_text` is its entry point) and its parts: each layer as its words
(`steps`), the network as terms whose numbers are holes (`terms`), runs folded into
`( ... ) * N` (`repeats`) and sub-chains into `def` blocks (`fold`, with their parameters
from `params`), the lines laid out (`layout`), and the text read back and matched with
the graph it was printed from (`check`)."""
