"""Pictures drawn with matplotlib (the `plot` extra): feature maps (`maps`).

The limits below are here, apart from the drawing, so that the command line can name
them in its help without importing NumPy or matplotlib."""

MAX_CHANNELS = 16  # maps per layer; more are left out, and the row's label says so
MAX_ROWS = 32  # layers per picture by default; `layers=` chooses others
