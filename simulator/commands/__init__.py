"""One module per `promosim` command; each defines `register(subparsers)`."""

COMMANDS = (
    "simulator.commands.run",
    "simulator.commands.validate",
    "simulator.commands.explain",
    "simulator.commands.schema",
    "simulator.commands.optimize",
    "simulator.commands.report",
    "simulator.commands.compare",
    "simulator.commands.bench",
    "simulator.commands.calibrate",
    "simulator.commands.sensitivity",
)
