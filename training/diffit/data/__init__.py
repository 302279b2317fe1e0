"""Image data sets, read from the files users already have (no downloads)."""

from .fashion_mnist import FASHION_MNIST_CLASSES, DataError, load_fashion_mnist, read_idx  # noqa: F401
