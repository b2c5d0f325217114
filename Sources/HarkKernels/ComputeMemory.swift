// Allocator settings for a process that runs the model.

import CHarkKernels

/// Process-wide memory settings for running the model.
public enum ComputeMemory {
    /// Keeps the large buffers the model allocates and frees on every window in the C heap, so
    /// that their pages are faulted in (and zeroed by the kernel) once per process, not once per
    /// use (``hark_keep_large_buffers``). Call it once, at the start of a program.
    public static func keepLargeBuffers() {
        hark_keep_large_buffers()
    }
}
