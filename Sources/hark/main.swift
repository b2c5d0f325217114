import Foundation
import HarkCLI
import HarkModel

ComputeThreads.prepareProcess()
// A write past the file size limit (ulimit -f) fails with EFBIG and is reported as an error,
// instead of the signal ending the process.
signal(SIGXFSZ, SIG_IGN)
HarkCommand.main(arguments: Array(CommandLine.arguments.dropFirst()))
