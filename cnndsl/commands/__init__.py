"""One module per command, each with its argparse setup (`add_parser`) and `run(args)`;
`cnndsl.cli` only wires them (see STYLE.md, "Growing the house").

Imports: anything below (`training`, `running`, the API, `views`, ...); `common` holds
what they share. Only `cnndsl.cli` imports the commands.
"""
