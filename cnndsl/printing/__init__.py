"""The printer's parts: steps as words with holes (`terms`), folding into blocks and
repetitions (`fold`), and laying the text out in lines (`layout`). `cnndsl.printer` is
the entry point."""
