"""One module per command, each with its argparse setup (`add_parser`) and `run(args)`;
`cnndsl.cli` only wires them (see STYLE.md, "Growing the house")."""
