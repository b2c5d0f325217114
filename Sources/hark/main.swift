import HarkCLI
import HarkModel

ComputeThreads.prepareProcess()
Hark.main(arguments: Array(CommandLine.arguments.dropFirst()))
