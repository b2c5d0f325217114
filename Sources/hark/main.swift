import Foundation
import HarkCLI
import HarkModel

// OpenBLAS picks its kernels when it loads; where it took this CPU for an older one, start
// again with the right ones (float32 products twice as fast on Sapphire Rapids).
if ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, let core = ComputeThreads.betterBLASCore {
    setenv("OPENBLAS_CORETYPE", core, 1)
    var arguments = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", &arguments)
    // Going on with the slower kernels if exec failed.
}
ComputeThreads.prepareProcess()
// A write past the file size limit (ulimit -f) fails with EFBIG and is reported as an error,
// instead of the signal ending the process.
signal(SIGXFSZ, SIG_IGN)
HarkCommand.main(arguments: Array(CommandLine.arguments.dropFirst()))
