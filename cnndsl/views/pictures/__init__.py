"""Pictures drawn with matplotlib (the `plot` extra): feature maps (`maps`).

The limits below are here, apart from the drawing, so that the command line can name
them in its help without importing NumPy or matplotlib."""

MAX_CHANNELS = 16  # maps per layer; more are left out, and the row's label says so
MAX_ROWS = 32  # layers per picture by default; `layers=` chooses others
# Pixels in one picture. matplotlib's Agg canvas, which every format but SVG and PDF is
# drawn on (and a notebook's inline PNG), holds 4 bytes a pixel while the picture is
# drawn and encoded (measured: a 20,000x10,000 PNG peaked at 831 MB, 4.0 bytes a pixel
# over the 64 MB before it), and it stops at 2^16 pixels each way; so Agg would accept
# 65,535x65,535, 4.3 G pixels and 16 GiB. 2^28 pixels (16,384x16,384) is a 1 GiB
# canvas, fifteen times the default picture of 32 layers of 16 maps (26.6x66.5 inches,
# 17.7 M pixels) and room for about 8,700 maps. PNG encoding took 7 s per 100 M pixels.
MAX_PIXELS = 2**28
