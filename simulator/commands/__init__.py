"""One module per `promosim` command; each defines `register(subparsers)`."""

COMMANDS = (
    "simulator.commands.run",
    "simulator.commands.validate",
    "simulator.commands.schema",
)
