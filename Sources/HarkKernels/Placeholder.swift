// Swift API over the int8 kernels.
