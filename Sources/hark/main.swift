import HarkCLI

Hark.main(arguments: Array(CommandLine.arguments.dropFirst()))
